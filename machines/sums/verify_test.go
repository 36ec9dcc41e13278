package sums

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func hexOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeTree writes files under dir/name with a SHA256SUMS listing them all and returns the
// machine directory and the SHA256SUMS checksum.
func writeTree(t testing.TB, dir, name string, files map[string]string) (string, string) {
	t.Helper()
	root := filepath.Join(dir, name)
	var list Sums
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		list = append(list, Entry{Path: p, SHA256: hexOf([]byte(content))})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	data := list.Format()
	if err := os.WriteFile(filepath.Join(root, FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root, hexOf(data)
}

// later moves the racy-window clock an hour ahead, as if the files had been written long ago.
func later(t testing.TB) {
	now = func() time.Time { return time.Now().Add(time.Hour) }
	t.Cleanup(func() { now = time.Now })
}

var webFiles = map[string]string{
	"machine.yaml":  "name: web\n",
	"bin/run":       "#!/bin/sh\necho run\n",
	"lib/x/deep.sh": "deep\n",
}

func TestVerifyTree(t *testing.T) {
	t.Run("trusts a remembered SHA256SUMS only while its stamp is unchanged", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, sum, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyTree(root, sum, cache, false); err != nil {
			t.Fatalf("unchanged tree: %v", err)
		}
		// Drop bin/run from SHA256SUMS behind mms's back: the file's stamp changes, so it is
		// read and hashed again and no longer matches verify_checksum.
		data, _ := os.ReadFile(filepath.Join(root, FileName))
		var kept []string
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasSuffix(line, " bin/run\n") {
				kept = append(kept, line)
			}
		}
		if err := os.WriteFile(filepath.Join(root, FileName), []byte(strings.Join(kept, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyTree(root, sum, cache, false); !errors.Is(err, errs.ErrChecksum) {
			t.Fatalf("a rewritten SHA256SUMS was trusted: %v", err)
		}
	})

	t.Run("verifies a good tree and stamps every listed file and SHA256SUMS", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, strings.ToUpper(sum), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(cache) != len(webFiles)+1 || cache[FileName].SHA256 != sum {
			t.Fatalf("cache has %d stamps, want %d: %v", len(cache), len(webFiles)+1, cache)
		}
		fi, _ := os.Lstat(filepath.Join(root, "bin/run"))
		if got, want := cache["bin/run"], NewStamp(fi, hexOf([]byte(webFiles["bin/run"]))); got != want || got.Inode == 0 {
			t.Fatalf("stamp %+v, want %+v", got, want)
		}
	})

	t.Run("does not cache a file changed within the racy window", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, sum, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for p, st := range cache {
			if st.Inode != 0 {
				t.Fatalf("freshly written %s was cached with a stamp a later check would trust: %+v", p, st)
			}
		}
		if len(cache) != len(webFiles) {
			t.Fatalf("the cache lists %d files, want the %d SHA256SUMS lists: %v", len(cache), len(webFiles), cache)
		}
	})

	t.Run("trusts a matching stamp without reading the file, and full re-reads it", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, sum, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		// Make the cache lie: the file's content is not what the stamp claims. Only a read could tell.
		if err := os.WriteFile(filepath.Join(root, "bin/run"), []byte("#!/bin/sh\necho pwn\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(filepath.Join(root, "bin/run"))
		cache["bin/run"] = NewStamp(fi, hexOf([]byte(webFiles["bin/run"])))

		again, err := VerifyTree(root, sum, cache, false)
		if err != nil {
			t.Fatalf("a cached file was read: %v", err)
		}
		if again["bin/run"] != cache["bin/run"] {
			t.Fatalf("stamp not carried over")
		}
		_, err = VerifyTree(root, sum, cache, true)
		if !errors.Is(err, errs.ErrChecksum) {
			t.Fatalf("full verify err = %v, want ErrChecksum", err)
		}
	})

	t.Run("re-reads a file rewritten with the same size and names it", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, sum, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		bad := "#!/bin/sh\necho pwn\n"
		if err := os.WriteFile(filepath.Join(root, "bin/run"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = VerifyTree(root, sum, cache, false)
		want := `verify "web": file bin/run: checksum mismatch: expected ` + hexOf([]byte(webFiles["bin/run"])) + " got " + hexOf([]byte(bad))
		if !errors.Is(err, errs.ErrChecksum) || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})

	t.Run("re-reads a file whose cached checksum is not the expected one", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		cache, err := VerifyTree(root, sum, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		st := cache["machine.yaml"]
		st.SHA256 = strings.Repeat("0", 64)
		cache["machine.yaml"] = st
		again, err := VerifyTree(root, sum, cache, false)
		if err != nil {
			t.Fatal(err)
		}
		if again["machine.yaml"].SHA256 != hexOf([]byte(webFiles["machine.yaml"])) {
			t.Fatalf("stamp not refreshed: %+v", again["machine.yaml"])
		}
	})

	t.Run("refuses SHA256SUMS that does not hash to verify_checksum, saying both", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		other := strings.Repeat("a", 64)
		_, err := VerifyTree(root, other, nil, false)
		if !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "expected "+other+" got "+sum) || !strings.Contains(err.Error(), `verify "web": SHA256SUMS`) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a malformed verify_checksum", func(t *testing.T) {
		root, _ := writeTree(t, t.TempDir(), "web", webFiles)
		if _, err := VerifyTree(root, "abc", nil, false); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a missing SHA256SUMS", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		os.Remove(filepath.Join(root, FileName))
		if _, err := VerifyTree(root, sum, nil, false); !errors.Is(err, errs.ErrChecksum) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a missing file", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		os.Remove(filepath.Join(root, "lib/x/deep.sh"))
		_, err := VerifyTree(root, sum, nil, false)
		if !errors.Is(err, errs.ErrChecksum) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "file lib/x/deep.sh") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a symlink where a file should be, even to identical content inside the tree", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		run := filepath.Join(root, "bin/run")
		os.WriteFile(filepath.Join(root, "copy"), []byte(webFiles["bin/run"]), 0o644)
		os.Remove(run)
		if err := os.Symlink("../copy", run); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyTree(root, sum, nil, false)
		if !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "file bin/run: checksum mismatch: not a regular file (symlink)") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a symlinked directory leading outside the tree", func(t *testing.T) {
		dir := t.TempDir()
		root, sum := writeTree(t, dir, "web", webFiles)
		outside, _ := writeTree(t, dir, "elsewhere", map[string]string{"x/deep.sh": "deep\n"})
		os.RemoveAll(filepath.Join(root, "lib"))
		if err := os.Symlink(outside, filepath.Join(root, "lib")); err != nil {
			t.Fatal(err)
		}
		_, err := VerifyTree(root, sum, nil, false)
		if !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "lib is not a directory (symlink)") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a symlinked SHA256SUMS", func(t *testing.T) {
		dir := t.TempDir()
		root, sum := writeTree(t, dir, "web", webFiles)
		real := filepath.Join(dir, "sums")
		os.Rename(filepath.Join(root, FileName), real)
		os.Symlink(real, filepath.Join(root, FileName))
		if _, err := VerifyTree(root, sum, nil, false); !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a directory where a file should be", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		os.Remove(filepath.Join(root, "machine.yaml"))
		os.Mkdir(filepath.Join(root, "machine.yaml"), 0o755)
		if _, err := VerifyTree(root, sum, nil, false); !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "(directory)") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a named pipe where a file should be without blocking", func(t *testing.T) {
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		p := filepath.Join(root, "machine.yaml")
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skip("mkfifo:", err)
		}
		if _, err := VerifyTree(root, sum, nil, false); !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a SHA256SUMS that lists itself", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "web")
		os.Mkdir(root, 0o755)
		data := []byte(hexA + "  SHA256SUMS\n")
		os.WriteFile(filepath.Join(root, FileName), data, 0o644)
		if _, err := VerifyTree(root, hexOf(data), nil, false); !errors.Is(err, errs.ErrChecksum) || !strings.Contains(err.Error(), "list itself") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("refuses a SHA256SUMS that escapes the tree", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "web")
		os.Mkdir(root, 0o755)
		data := []byte(hexA + "  ../../etc/passwd\n")
		os.WriteFile(filepath.Join(root, FileName), data, 0o644)
		if _, err := VerifyTree(root, hexOf(data), nil, false); !errors.Is(err, errs.ErrUnsafeArchive) || !strings.Contains(err.Error(), `verify "web": unsafe archive: SHA256SUMS line 1`) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("does not modify the cache it is given", func(t *testing.T) {
		later(t)
		root, sum := writeTree(t, t.TempDir(), "web", webFiles)
		old := Cache{"gone": {Size: 1}}
		fresh, err := VerifyTree(root, sum, old, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(old) != 1 {
			t.Fatalf("input cache changed: %v", old)
		}
		if _, ok := fresh["gone"]; ok {
			t.Fatalf("fresh cache keeps a stamp for an unlisted file")
		}
	})
}
