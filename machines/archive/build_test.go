package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/sums"
)

// machineDir writes a small machine directory and returns its path.
func machineDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	for p, c := range map[string]struct {
		body string
		mode os.FileMode
	}{
		"machine.yaml":          {"name: web\n", 0o600},
		"bin/run":               {"#!/bin/sh\necho run\n", 0o750},
		"lib/a..b.txt":          {"dots\n", 0o664},
		"lib/ünïcødé.txt":       {"utf8\n", 0o644},
		".hidden":               {"dot file\n", 0o644},
		"SHA256SUMS":            {"stale\n", 0o644},
		"lib/nested/SHA256SUMS": {"a nested file of that name is just a file\n", 0o644},
	} {
		full := filepath.Join(src, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c.body), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(full, c.mode)
	}
	os.Mkdir(filepath.Join(src, "empty"), 0o700)
	return src
}

func build(t *testing.T, src string) ([]byte, BuildResult) {
	t.Helper()
	var b bytes.Buffer
	res, err := Build(src, "web", &b)
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), res
}

func TestBuild(t *testing.T) {
	t.Run("writes SHA256SUMS listing every file but itself, sorted", func(t *testing.T) {
		src := machineDir(t)
		_, res := build(t, src)
		data, err := os.ReadFile(filepath.Join(src, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		want := sha("dot file\n") + "  .hidden\n" +
			sha("#!/bin/sh\necho run\n") + "  bin/run\n" +
			sha("dots\n") + "  lib/a..b.txt\n" +
			sha("a nested file of that name is just a file\n") + "  lib/nested/SHA256SUMS\n" +
			sha("utf8\n") + "  lib/ünïcødé.txt\n" +
			sha("name: web\n") + "  machine.yaml\n"
		if string(data) != want {
			t.Fatalf("SHA256SUMS =\n%s\nwant\n%s", data, want)
		}
		if res.VerifyChecksum != sha(want) {
			t.Fatalf("VerifyChecksum %s, want %s", res.VerifyChecksum, sha(want))
		}
	})

	t.Run("writes identical bytes twice, whatever the files' times", func(t *testing.T) {
		src := machineDir(t)
		first, r1 := build(t, src)
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		filepath.Walk(src, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
		second, r2 := build(t, src)
		if !bytes.Equal(first, second) || r1 != r2 {
			t.Fatalf("builds differ: %+v vs %+v", r1, r2)
		}
		h := sha256.Sum256(first)
		if r1.Checksum != hex.EncodeToString(h[:]) {
			t.Fatalf("Checksum %s is not the sha256 of the archive", r1.Checksum)
		}
		if r1.Files != 7 || r1.Bytes != int64(len("name: web\n#!/bin/sh\necho run\ndots\nutf8\ndot file\na nested file of that name is just a file\n"))+sizeOf(t, filepath.Join(src, "SHA256SUMS")) {
			t.Fatalf("result %+v", r1)
		}
	})

	t.Run("normalises every header and the gzip header", func(t *testing.T) {
		data, _ := build(t, machineDir(t))
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
			t.Fatalf("gzip header %+v", zr.Header)
		}
		tr := tar.NewReader(zr)
		var names []string
		modes := map[string]int64{}
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, hdr.Name)
			modes[hdr.Name] = hdr.Mode
			if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || !hdr.ModTime.Equal(time.Unix(0, 0)) {
				t.Errorf("%s: header %+v", hdr.Name, hdr)
			}
		}
		want := []string{"web/", "web/.hidden", "web/SHA256SUMS", "web/bin/", "web/bin/run", "web/empty/", "web/lib/",
			"web/lib/a..b.txt", "web/lib/nested/", "web/lib/nested/SHA256SUMS", "web/lib/ünïcødé.txt", "web/machine.yaml"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("members\n%v\nwant\n%v", names, want)
		}
		for name, want := range map[string]int64{"web/": 0o755, "web/empty/": 0o755, "web/bin/run": 0o755, "web/machine.yaml": 0o644, "web/lib/a..b.txt": 0o644} {
			if modes[name] != want {
				t.Errorf("%s: mode %#o, want %#o", name, modes[name], want)
			}
		}
	})

	t.Run("builds an archive that Extract and VerifyTree accept", func(t *testing.T) {
		src := machineDir(t)
		data, res := build(t, src)
		s := newSandbox(t)
		cache, err := Extract(bytes.NewReader(data), s.dir, "web", DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if len(cache) != res.Files {
			t.Fatalf("extracted %d files, built %d", len(cache), res.Files)
		}
		if _, err := sums.VerifyTree(filepath.Join(s.dir, "web"), res.VerifyChecksum, nil, true); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(s.dir, "web/empty")); err != nil || !fi.IsDir() {
			t.Fatalf("empty directory not kept: %v", err)
		}
	})

	refuse := func(t *testing.T, src, says string) {
		t.Helper()
		var b bytes.Buffer
		_, err := Build(src, "web", &b)
		if err == nil || !strings.Contains(err.Error(), says) || !strings.HasPrefix(err.Error(), `build "web": `) {
			t.Fatalf("err = %v, want it to say %q", err, says)
		}
		if b.Len() != 0 {
			t.Fatalf("wrote %d bytes of archive", b.Len())
		}
	}

	t.Run("refuses a symlink", func(t *testing.T) {
		src := machineDir(t)
		os.Symlink("/etc/passwd", filepath.Join(src, "lib/passwd"))
		refuse(t, src, "lib/passwd: unsafe archive: a symlink")
	})

	t.Run("refuses a symlinked machine.yaml", func(t *testing.T) {
		src := machineDir(t)
		os.Rename(filepath.Join(src, "machine.yaml"), filepath.Join(src, "real.yaml"))
		os.Symlink("real.yaml", filepath.Join(src, "machine.yaml"))
		refuse(t, src, "machine.yaml: unsafe archive: not a regular file")
	})

	t.Run("refuses a FIFO", func(t *testing.T) {
		src := machineDir(t)
		if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
			t.Skip(err)
		}
		refuse(t, src, "fifo: unsafe archive: a named pipe")
	})

	t.Run("refuses a name Extract would refuse", func(t *testing.T) {
		src := machineDir(t)
		os.WriteFile(filepath.Join(src, `back\slash`), nil, 0o644)
		refuse(t, src, "backslash")
	})

	t.Run("refuses a directory without machine.yaml", func(t *testing.T) {
		src := machineDir(t)
		os.Remove(filepath.Join(src, "machine.yaml"))
		refuse(t, src, "machine.yaml")
	})

	t.Run("refuses a machine name that is not a plain directory name", func(t *testing.T) {
		var b bytes.Buffer
		if _, err := Build(machineDir(t), "../web", &b); !errors.Is(err, errs.ErrUnsafeArchive) {
			t.Fatalf("err = %v", err)
		}
	})
}

func sizeOf(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
