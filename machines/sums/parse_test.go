package sums

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

const (
	hexA = "8d9f4d9cc27b15d3c5801a3dc232b84226036cacd4025e4a7b615ce78e7ec44b"
	hexB = "299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba"
)

func TestParse(t *testing.T) {
	t.Run("reads the output of coreutils sha256sum, binary marker and ./ included", func(t *testing.T) {
		data, err := os.ReadFile("testdata/coreutils.SHA256SUMS")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		want := Sums{{Path: "machine.yaml", SHA256: hexA}, {Path: "bin/run", SHA256: hexB}}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})

	t.Run("tolerates blank lines, CRLF and upper-case hex and round-trips through Format", func(t *testing.T) {
		in := "\n" + strings.ToUpper(hexA) + "  a..b.txt\r\n\n   \n" + hexB + "  dir/ünïcode\n"
		got, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		want := hexA + "  a..b.txt\n" + hexB + "  dir/ünïcode\n"
		if string(got.Format()) != want {
			t.Fatalf("Format() = %q, want %q", got.Format(), want)
		}
	})

	t.Run("keeps spaces inside names", func(t *testing.T) {
		got, err := Parse([]byte(hexA + "  a b \n"))
		if err != nil || got[0].Path != "a b " {
			t.Fatalf("got %+v, %v", got, err)
		}
	})

	t.Run("accepts an empty file as an empty list", func(t *testing.T) {
		got, err := Parse(nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})

	refusals := []struct{ name, in, line, says string }{
		{"refuses an absolute path", hexA + "  /etc/passwd\n", "line 1", "absolute"},
		{"refuses a .. element", hexA + "  ok\n" + hexB + "  a/../../etc/passwd\n", "line 2", `".."`},
		{"refuses a bare ..", hexA + "  ..\n", "line 1", `".."`},
		{"refuses a path that is not clean", hexA + "  a//b\n", "line 1", "not clean"},
		{"refuses a trailing slash", hexA + "  a/\n", "line 1", "not clean"},
		{"refuses a backslash-escaped line", `\` + hexA + "  a\\nb\n", "line 1", "backslash-escaped"},
		{"refuses a backslash inside a name", hexA + "  a\\b\n", "line 1", "backslash"},
		{"refuses a duplicate path after ./ normalisation", hexA + "  a\n" + hexB + "  ./a\n", "line 2", "duplicate"},
		{"refuses short hex", hexA[:63] + "  a\n", "line 1", "hex"},
		{"refuses non-hex characters", "g" + hexA[1:] + "  a\n", "line 1", "hex"},
		{"refuses a single space separator", hexA + " a\n", "line 1", "two spaces"},
		{"refuses a missing path", hexA + "  \n", "line 1", "empty path"},
		{"refuses ./ alone", hexA + "  ./\n", "line 1", "empty path"},
		{"refuses a control character in a name", hexA + "  a\tb\n", "line 1", "control"},
		{"refuses BSD-style tagged lines", "SHA256 (a) = " + hexA + "\n", "line 1", ""},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			if !errors.Is(err, errs.ErrUnsafeArchive) {
				t.Fatalf("err = %v, want ErrUnsafeArchive", err)
			}
			if !strings.Contains(err.Error(), c.line) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %q, want it to name %q and say %q", err, c.line, c.says)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(hexA + "  machine.yaml\n" + hexB + " *./bin/run\n"))
	f.Add([]byte(hexA + "  ../x\n"))
	f.Add([]byte("\\" + hexA + "  a\\\\b\n"))
	f.Add([]byte(hexA + "  a\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data)
		if err != nil {
			if !errors.Is(err, errs.ErrUnsafeArchive) {
				t.Fatalf("error %v does not wrap ErrUnsafeArchive", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range got {
			if p, err := CleanPath(e.Path); err != nil || p != e.Path {
				t.Fatalf("accepted path %q is not clean: %v", e.Path, err)
			}
			if !IsHex256(e.SHA256) {
				t.Fatalf("accepted checksum %q", e.SHA256)
			}
			if seen[e.Path] {
				t.Fatalf("accepted duplicate %q", e.Path)
			}
			seen[e.Path] = true
		}
		again, err := Parse(got.Format())
		if err != nil || len(again) != len(got) {
			t.Fatalf("Format output does not parse back: %v", err)
		}
		for i := range got {
			if again[i] != got[i] {
				t.Fatalf("round trip changed %+v into %+v", got[i], again[i])
			}
		}
	})
}
