package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/sums"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestExtractUnpacks(t *testing.T) {
	t.Run("unpacks files and directories, keeping exec bits and forcing owner access", func(t *testing.T) {
		s := newSandbox(t)
		data := tgz(t,
			dir("web/"),
			file("web/machine.yaml", "name: web\n"),
			fileMode("web/bin/run", "#!/bin/sh\n", 0o755),
			fileMode("web/ro", "ro", 0o444),
			fileMode("web/open", "open", 0o777),
			fileMode("web/private", "private", 0o100),
			entry{tar.Header{Typeflag: tar.TypeDir, Name: "web/locked/", Mode: 0o555}, ""},
			fileMode("web/locked/inside", "x", 0o400),
		)
		cache, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(s.dir, "web")
		for p, want := range map[string]fs.FileMode{
			".": fs.ModeDir | 0o755, "machine.yaml": 0o644, "bin": fs.ModeDir | 0o755, "bin/run": 0o755,
			"ro": 0o644, "open": 0o755, "private": 0o700, "locked": fs.ModeDir | 0o755, "locked/inside": 0o600,
		} {
			if got := mode(t, filepath.Join(root, p)); got != want {
				t.Errorf("%s: mode %v, want %v", p, got, want)
			}
		}
		got, _ := os.ReadFile(filepath.Join(root, "bin/run"))
		if string(got) != "#!/bin/sh\n" {
			t.Fatalf("bin/run = %q", got)
		}
		if len(cache) != 6 || cache["bin/run"].SHA256 != sha("#!/bin/sh\n") || cache["bin/run"].Inode == 0 {
			t.Fatalf("cache = %+v", cache)
		}
		s.confined(t, "web", false)
	})

	t.Run("accepts ./ prefixes, a ./ member, a..b.txt, unicode names, empty directories and implicit parents", func(t *testing.T) {
		s := newSandbox(t)
		data := tgz(t,
			dir("./"),
			dir("./web/"),
			file("./web/a..b.txt", "dots"),
			file("web/ünïcødé/日本.txt", "utf8"),
			dir("web/empty/"),
			file("web/deep/er/still.txt", "deep"),
			dir("web/deep/"), // after its contents, as some tools write them
		)
		if _, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits()); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"a..b.txt", "ünïcødé/日本.txt", "empty", "deep/er/still.txt"} {
			if _, err := os.Lstat(filepath.Join(s.dir, "web", p)); err != nil {
				t.Error(err)
			}
		}
		s.confined(t, "web", false)
	})

	t.Run("reads PAX and GNU long names and skips a PAX global header", func(t *testing.T) {
		s := newSandbox(t)
		long := "web/" + strings.Repeat("d", 150) + "/" + strings.Repeat("f", 120)
		data := tgz(t,
			entry{tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123abcd"}}, ""},
			entry{tar.Header{Typeflag: tar.TypeReg, Name: long, Mode: 0o644, Size: 3, Format: tar.FormatPAX}, "pax"},
			entry{tar.Header{Typeflag: tar.TypeReg, Name: long + "2", Mode: 0o644, Size: 3, Format: tar.FormatGNU}, "gnu"},
		)
		if _, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits()); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]string{long: "pax", long + "2": "gnu"} {
			got, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(p)))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v", p, got, err)
			}
		}
		s.confined(t, "web", false)
	})

	t.Run("unpacks an archive made by GNU tar", func(t *testing.T) {
		data, err := os.ReadFile("testdata/gnutar.tgz")
		if err != nil {
			t.Fatal(err)
		}
		s := newSandbox(t)
		if _, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits()); err != nil {
			t.Fatal(err)
		}
		if got := mode(t, filepath.Join(s.dir, "web/bin/run")); got != 0o755 {
			t.Fatalf("bin/run mode %v", got)
		}
	})
}

// refusal is a crafted archive that must be refused with an error saying why.
type refusal struct {
	name    string
	members func(s sandbox) []entry
	says    string
}

func TestExtractRefuses(t *testing.T) {
	ok := file("web/machine.yaml", "name: web\n")
	abs := func(s sandbox) string { return filepath.ToSlash(filepath.Join(s.base, "pwned")) }
	static := func(m ...entry) func(sandbox) []entry { return func(sandbox) []entry { return m } }

	cases := []refusal{
		{"refuses an absolute path", func(s sandbox) []entry { return []entry{ok, file(abs(s), "x")} }, "absolute path"},
		{"refuses an absolute directory", func(s sandbox) []entry { return []entry{dir(abs(s) + "/")} }, "absolute path"},
		{"refuses a .. escape from the top", static(ok, file("../pwned", "x")), `".." element`},
		{"refuses a .. escape through the machine directory", static(ok, file("web/../../pwned", "x")), `".." element`},
		{"refuses a .. that stays inside", static(ok, file("web/a/../b", "x")), `".." element`},
		{"refuses a .. directory", static(ok, dir("web/../")), `".." element`},
		{"refuses a ./.. directory", static(dir("./../")), `".." element`},
		{"refuses a name that is not clean", static(ok, file("web//a", "x")), "not clean"},
		{"refuses a ./ inside a name", static(ok, file("web/./a", "x")), "not clean"},
		{"refuses a backslash", static(ok, file(`web\..\..\pwned`, "x")), "backslash"},
		{"refuses a control character", static(ok, file("web/a\nb", "x")), "control character"},
		{"refuses an empty name", static(ok, file("", "x")), "empty path"},
		{"refuses a member outside the top-level directory", static(ok, file("other/x", "x")), `outside the top-level directory "web/"`},
		{"refuses a second top-level directory", static(ok, dir("web2/")), "outside the top-level"},
		{"refuses a file at the top", static(file("machine.yaml", "x")), "outside the top-level"},
		{"refuses a top-level name that only starts like the machine", static(file("webx/a", "x")), "outside the top-level"},
		{"refuses the top-level directory as a file", static(file("web", "x")), "must be a directory"},
		{"refuses a symlink", static(ok, special(tar.TypeSymlink, "web/link", "/etc")), "symlinks are not allowed"},
		{"refuses a symlink and then a file through it", func(s sandbox) []entry {
			return []entry{special(tar.TypeSymlink, "web/link", s.base), file("web/link/pwned", "x")}
		}, "symlinks are not allowed"},
		{"refuses a hard link", static(ok, special(tar.TypeLink, "web/hard", "web/machine.yaml")), "hard links are not allowed"},
		{"refuses a hard link outside", static(special(tar.TypeLink, "web/passwd", "/etc/passwd")), "hard links are not allowed"},
		{"refuses a character device", static(ok, special(tar.TypeChar, "web/null", "")), "devices"},
		{"refuses a block device", static(ok, special(tar.TypeBlock, "web/sda", "")), "devices"},
		{"refuses a FIFO", static(ok, special(tar.TypeFifo, "web/fifo", "")), "FIFOs"},
		{"refuses a contiguous file", static(ok, special(tar.TypeCont, "web/c", "")), "not allowed"},
		{"refuses a setuid file", static(fileMode("web/suid", "x", 0o4755)), "setuid"},
		{"refuses a setgid file", static(fileMode("web/sgid", "x", 0o2755)), "setgid"},
		{"refuses a setgid directory", static(entry{tar.Header{Typeflag: tar.TypeDir, Name: "web/d/", Mode: 0o2755}, ""}), "setgid"},
		{"refuses a duplicate file", static(ok, ok), "duplicate member"},
		{"refuses a duplicate spelt with ./", static(ok, file("./web/machine.yaml", "evil")), "duplicate member"},
		{"refuses a duplicate directory", static(dir("web/d/"), dir("web/d/")), "duplicate member"},
		{"refuses a duplicate top-level directory", static(dir("web/"), dir("./web/")), "duplicate member"},
		{"refuses a directory over a file", static(ok, dir("web/machine.yaml/")), "duplicate member"},
		{"refuses a file over a directory", static(dir("web/d/"), file("web/d", "x")), "duplicate member"},
		{"refuses a file over an implicit directory", static(file("web/d/x", "x"), file("web/d", "x")), "duplicate member"},
		{"refuses a file under a file", static(ok, file("web/machine.yaml/x", "x")), "is a file, not a directory"},
		{"refuses an archive with no members", static(), "holds no web/ directory"},
		{"refuses an archive of only ./", static(dir("./")), "holds no web/ directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := Extract(bytes.NewReader(tgz(t, c.members(s)...)), s.dir, "web", DefaultLimits())
			if !errors.Is(err, errs.ErrUnsafeArchive) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want ErrUnsafeArchive saying %q", err, c.says)
			}
			if !strings.HasPrefix(err.Error(), `extract "web": `) {
				t.Errorf("error does not name the machine: %v", err)
			}
			s.confined(t, "web", true)
			if _, err := os.Lstat(abs(s)); err == nil {
				t.Fatalf("wrote %s", abs(s))
			}
		})
	}
}

func TestExtractRefusesSparseFiles(t *testing.T) {
	// Made by GNU tar --sparse from a 5 MiB file of one hole and "hi\n".
	for _, fixture := range []string{"testdata/sparse-pax.tgz", "testdata/sparse-gnu.tgz"} {
		t.Run("refuses the sparse file in "+fixture, func(t *testing.T) {
			data, err := os.ReadFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			s := newSandbox(t)
			_, err = Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits())
			if !errors.Is(err, errs.ErrUnsafeArchive) || !strings.Contains(err.Error(), `member "web/sparse": unsafe archive: sparse files are not allowed`) {
				t.Fatalf("err = %v", err)
			}
			s.confined(t, "web", true)
		})
	}
}

func TestExtractRefusesBadInput(t *testing.T) {
	good := func(t *testing.T) []byte { return tgz(t, dir("web/"), file("web/machine.yaml", "x")) }

	t.Run("refuses data that is not gzip", func(t *testing.T) {
		s := newSandbox(t)
		_, err := Extract(strings.NewReader("PK\x03\x04 not a tarball"), s.dir, "web", DefaultLimits())
		if !errors.Is(err, errs.ErrUnsafeArchive) || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("err = %v", err)
		}
		s.confined(t, "web", true)
	})

	t.Run("refuses a truncated archive and cleans up what it wrote", func(t *testing.T) {
		s := newSandbox(t)
		data := tgz(t, dir("web/"), file("web/a", strings.Repeat("a", 100_000)), file("web/b", strings.Repeat("b", 100_000)))
		_, err := Extract(bytes.NewReader(data[:len(data)-20]), s.dir, "web", DefaultLimits())
		if !errors.Is(err, errs.ErrUnsafeArchive) {
			t.Fatalf("err = %v", err)
		}
		s.confined(t, "web", true)
	})

	t.Run("refuses gzip holding something other than tar", func(t *testing.T) {
		s := newSandbox(t)
		_, err := Extract(bytes.NewReader(gz(t, bytes.Repeat([]byte("not tar "), 200))), s.dir, "web", DefaultLimits())
		if !errors.Is(err, errs.ErrUnsafeArchive) {
			t.Fatalf("err = %v", err)
		}
		s.confined(t, "web", true)
	})

	t.Run("refuses a gzip stream whose CRC is wrong", func(t *testing.T) {
		s := newSandbox(t)
		data := good(t)
		data[len(data)-6] ^= 0xff // inside the CRC32 trailer
		_, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits())
		if !errors.Is(err, errs.ErrUnsafeArchive) {
			t.Fatalf("err = %v", err)
		}
		s.confined(t, "web", true)
	})

	t.Run("leaves an existing target alone", func(t *testing.T) {
		s := newSandbox(t)
		old := filepath.Join(s.dir, "web", "machine.yaml")
		os.MkdirAll(filepath.Dir(old), 0o755)
		os.WriteFile(old, []byte("old"), 0o644)
		if _, err := Extract(bytes.NewReader(good(t)), s.dir, "web", DefaultLimits()); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("err = %v, want ErrExist", err)
		}
		if got, _ := os.ReadFile(old); string(got) != "old" {
			t.Fatalf("existing machine changed: %q", got)
		}
	})

	t.Run("refuses a machine name that is not a plain directory name", func(t *testing.T) {
		for _, name := range []string{"", ".", "..", "../web", "a/b", `a\b`, "/abs"} {
			s := newSandbox(t)
			if _, err := Extract(bytes.NewReader(good(t)), s.dir, name, DefaultLimits()); !errors.Is(err, errs.ErrUnsafeArchive) {
				t.Errorf("name %q: err = %v", name, err)
			}
			s.confined(t, "web", true)
		}
	})

	t.Run("refuses a zero limit rather than treating it as unlimited", func(t *testing.T) {
		for _, lim := range []Limits{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}, {-1, 1, 1}} {
			s := newSandbox(t)
			if _, err := Extract(bytes.NewReader(good(t)), s.dir, "web", lim); !errors.Is(err, errs.ErrLimit) {
				t.Errorf("limits %+v: err = %v", lim, err)
			}
			s.confined(t, "web", true)
		}
	})
}

func TestExtractStampsMatchVerifyTree(t *testing.T) {
	t.Run("returns stamps that let VerifyTree skip every file right after extraction", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "web")
		os.MkdirAll(filepath.Join(src, "bin"), 0o755)
		os.WriteFile(filepath.Join(src, "machine.yaml"), []byte("name: web\n"), 0o644)
		os.WriteFile(filepath.Join(src, "bin/run"), []byte("#!/bin/sh\n"), 0o755)
		var b bytes.Buffer
		res, err := Build(src, "web", &b)
		if err != nil {
			t.Fatal(err)
		}
		s := newSandbox(t)
		cache, err := Extract(&b, s.dir, "web", DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		// The files were written within sums.RacyWindow: a file VerifyTree hashed would get no
		// stamp, so every stamp coming back unchanged proves none was read.
		again, err := sums.VerifyTree(filepath.Join(s.dir, "web"), res.VerifyChecksum, cache, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(cache)-1 { // all but SHA256SUMS itself
			t.Errorf("VerifyTree returned %d stamps for %d files", len(again), len(cache)-1)
		}
		for p, st := range again {
			if cache[p] != st {
				t.Errorf("%s was re-read: stamp %+v, want %+v", p, st, cache[p])
			}
		}
	})
}
