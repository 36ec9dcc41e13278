package cache

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	sum := strings.Repeat("0123456789abcdef", 4)
	for name, want := range map[string]nameKind{
		sum + ".tgz":                  archiveName,
		strings.ToUpper(sum) + ".tgz": foreignName, // the cache writes lower case only
		sum:                           foreignName,
		sum + ".tar.gz":               foreignName,
		sum[:63] + ".tgz":             foreignName,
		sum + "0.tgz":                 foreignName,
		"x" + sum[1:] + ".tgz":        foreignName,
		tempPrefix + "ABC":            tempName,
		tempPrefix:                    tempName,
		".tmp":                        foreignName,
		"":                            foreignName,
	} {
		got, kind := parseName(name)
		if kind != want {
			t.Errorf("parseName(%q) is kind %d, want %d", name, kind, want)
		}
		if kind == archiveName && got != sum {
			t.Errorf("parseName(%q) = %q", name, got)
		}
	}
}

// FuzzScanName checks that the scan takes as an archive exactly the names Keep writes, with
// the checksum they were written for, and that no name is both an archive and a leftover.
func FuzzScanName(f *testing.F) {
	for _, s := range []string{
		strings.Repeat("a", 64) + ".tgz", strings.Repeat("A", 64) + ".tgz", tempPrefix + "X",
		"archives", "../" + strings.Repeat("a", 61) + ".tgz", "", ".tgz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		sum, kind := parseName(name)
		switch kind {
		case archiveName:
			n, err := normalize(sum)
			if err != nil || n != sum || fileName(sum) != name {
				t.Fatalf("parseName(%q) = %q, an archive whose name Keep would not write (%v)", name, sum, err)
			}
			if strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
				t.Fatalf("parseName(%q) takes a path or a hidden file for an archive", name)
			}
		case tempName:
			if !strings.HasPrefix(name, tempPrefix) || sum != "" {
				t.Fatalf("parseName(%q) takes a non-temporary name for a leftover", name)
			}
		case foreignName:
			if sum != "" {
				t.Fatalf("parseName(%q) returned a checksum for a foreign name", name)
			}
		}
		// Whatever a checksum normalizes to names an archive that parses back to it.
		if n, err := normalize(name); err == nil {
			if got, kind := parseName(fileName(n)); kind != archiveName || got != n {
				t.Fatalf("fileName(%q) parses back as %q, kind %d", n, got, kind)
			}
		}
	})
}
