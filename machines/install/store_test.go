package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

func TestOpen(t *testing.T) {
	t.Run("creates .mms with mode 0700 and an empty record", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		fi, err := os.Lstat(filepath.Join(dir, ".mms"))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf(".mms is %v, want a directory with mode 0700", fi.Mode())
		}
		if names := s.ManagedNames(); len(names) != 0 {
			t.Fatalf("ManagedNames() = %v, want none", names)
		}
		if s.Accepted() != nil {
			t.Fatalf("Accepted() = %v, want nil", s.Accepted())
		}
	})

	t.Run("refuses a second Open while the first holds the lock, naming the directory", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		_, err := Open(dir)
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open = %v, want ErrLocked", err)
		}
		if !strings.Contains(err.Error(), dir) {
			t.Fatalf("error %q does not name %s", err, dir)
		}
		if !strings.Contains(err.Error(), Holder()) || !strings.Contains(Holder(), fmt.Sprintf("pid %d ", os.Getpid())) {
			t.Fatalf("error %q does not name the holder %q", err, Holder())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(dir)
		if err != nil {
			t.Fatalf("Open after Close = %v", err)
		}
		s2.Close()
	})

	t.Run("refuses a machines directory that does not exist", func(t *testing.T) {
		if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open = %v, want ErrNotExist", err)
		}
	})

	t.Run("refuses a .mms that is a symlink", func(t *testing.T) {
		dir, elsewhere := t.TempDir(), t.TempDir()
		if err := os.Symlink(elsewhere, filepath.Join(dir, ".mms")); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); err == nil {
			t.Fatal("Open accepted a .mms symlink")
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Fatalf("Open wrote %v through the symlink", entries)
		}
	})
}

func TestRecordFile(t *testing.T) {
	corrupt := map[string]string{
		"not JSON":                   "{not json",
		"truncated JSON":             `{"machines":{"web":{"name":"web"`,
		"trailing data":              `{"machines":{}} {}`,
		"a bad machine name":         `{"machines":{"../etc":{"name":"../etc"}}}`,
		"an entry under another key": `{"machines":{"web":{"name":"db"}}}`,
		"an unknown pending op":      `{"machines":{},"pending":{"web":{"op":"explode","machine":{"name":"web"}}}}`,
		"the wrong JSON type":        `[]`,
		"null":                       `null`,
		"an empty object":            `{}`,
		"nothing":                    ``,
	}
	for what, content := range corrupt {
		t.Run("refuses a state.json holding "+what, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{".mms/state.json": content})
			_, err := Open(dir)
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("Open = %v, want ErrRecord", err)
			}
		})
	}

	t.Run("refuses a state.json that cannot be read", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, ".mms", "state.json"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrRecord) {
			t.Fatalf("Open = %v, want ErrRecord", err)
		}
	})

	t.Run("round-trips machines, verification caches and the accepted specification", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir)
		install(t, s, "web", "sum-web", version("v1", 2))
		writeTree(t, filepath.Join(dir, "db"), version("hand", 1))
		adopted := Managed{Name: "db", Checksum: "sum-db", VerifyChecksum: "vsum-db", Source: "https://example.net/db.tgz"}
		if err := s.Adopt(adopted); err != nil {
			t.Fatal(err)
		}
		cache := sums.Cache{"machine.yaml": {Size: 9, ModNs: 1, ChangeNs: 2, Inode: 3, SHA256: "ab"}}
		s.SetVerified("web", cache)
		s.SetVerified("not-managed", cache)
		acc := spec.Accepted{Format: 2, Version: 1700000000000, Digest: "cd", At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
		if err := s.SetAccepted(acc); err != nil {
			t.Fatal(err)
		}
		wantWeb, _ := s.Managed("web")
		wantDB, _ := s.Managed("db")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = openStore(t, dir)
		if got := s.ManagedNames(); !slices.Equal(got, []string{"db", "web"}) {
			t.Fatalf("ManagedNames() = %v", got)
		}
		for _, want := range []Managed{wantWeb, wantDB} {
			got, ok := s.Managed(want.Name)
			if !ok || !sameManaged(got, want) {
				t.Fatalf("Managed(%q) = %+v, %v; want %+v", want.Name, got, ok, want)
			}
		}
		if got, _ := s.Managed("web"); got.Files["machine.yaml"] != cache["machine.yaml"] {
			t.Fatalf("web's cache = %v, want %v", got.Files, cache)
		}
		if got, _ := s.Managed("db"); got.Source != adopted.Source || got.InstalledAt.IsZero() {
			t.Fatalf("db = %+v", got)
		}
		if got := s.Accepted(); got == nil || got.Version != acc.Version || got.Digest != acc.Digest || !got.At.Equal(acc.At) || got.Format != 2 {
			t.Fatalf("Accepted() = %+v, want %+v", got, acc)
		}
	})

	t.Run("treats a missing state.json as an empty record", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, filepath.Join(dir, "web"), version("hand", 1))
		s := openStore(t, dir)
		if len(s.ManagedNames()) != 0 {
			t.Fatalf("ManagedNames() = %v", s.ManagedNames())
		}
		if err := s.Remove("web"); !errors.Is(err, errs.ErrNotManaged) {
			t.Fatalf("Remove with an empty record = %v, want ErrNotManaged", err)
		}
	})

	t.Run("hands out copies that do not change the record", func(t *testing.T) {
		s := openStore(t, t.TempDir())
		install(t, s, "web", "sum", version("v1", 1))
		s.SetVerified("web", sums.Cache{"a": {Size: 1}})
		m, _ := s.Managed("web")
		m.Files["a"] = sums.Stamp{Size: 99}
		if again, _ := s.Managed("web"); again.Files["a"].Size != 1 {
			t.Fatal("changing a returned Managed changed the record")
		}
	})
}

func sameManaged(a, b Managed) bool {
	return a.Name == b.Name && a.Checksum == b.Checksum && a.VerifyChecksum == b.VerifyChecksum &&
		a.Source == b.Source && a.InstalledAt.Equal(b.InstalledAt) && len(a.Files) == len(b.Files)
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"machines":{"web":{"name":"web","checksum":"ab","files":{"a":{"size":1}}}},"accepted":{"format":2,"version":3}}`))
	f.Add([]byte(`{"machines":{},"pending":{"web":{"op":"install","inode":7,"machine":{"name":"web"}}}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"machines":{"tmp":{"name":"tmp"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("DecodeRecord error %v does not wrap ErrRecord", err)
			}
			return
		}
		for k := range r.Machines {
			if spec.ValidName(k) != nil {
				t.Fatalf("accepted a record naming %q", k)
			}
		}
		enc, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRecord(enc)
		if err != nil {
			t.Fatalf("an encoded record does not decode: %v\n%s", err, enc)
		}
		if len(again.Machines) != len(r.Machines) || len(again.Pending) != len(r.Pending) || (again.Accepted == nil) != (r.Accepted == nil) {
			t.Fatalf("record changed in a round trip:\n%s", enc)
		}
	})
}

func TestRecordBounds(t *testing.T) {
	t.Run("refuses a state.json that nests too deep, without overflowing the stack", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, ".mms"), 0o700); err != nil {
			t.Fatal(err)
		}
		deep := `{"machines":{"web":{"files":` + strings.Repeat("[", 8<<20) + `}}}`
		if err := os.WriteFile(filepath.Join(dir, ".mms", "state.json"), []byte(deep), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrRecord) {
			t.Fatalf("Open = %v, want ErrRecord", err)
		}
	})
	t.Run("refuses a state.json larger than any record mms writes, before reading it", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, ".mms"), 0o700); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, ".mms", "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(MaxRecordBytes + 1); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		f.Close()
		if _, err := Open(dir); !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("Open = %v", err)
		}
	})
}

func TestStateDirIsMMSsOwn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"refuses .mms as a symlink, writing nothing through it", func(t *testing.T, dir string) {
			elsewhere := t.TempDir()
			if err := os.Symlink(elsewhere, filepath.Join(dir, ".mms")); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
					t.Errorf("mms wrote through the symlink: %v", entries)
				}
			})
		}, "is a symlink"},
		{"refuses .mms writable by others, saying the chmod", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ".mms")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "chmod 700"},
		{"refuses .mms as a file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, ".mms"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := Open(dir)
			if !errors.Is(err, ErrStateDir) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v", err)
			}
			if _, err := StateDir(dir); !errors.Is(err, ErrStateDir) {
				t.Fatalf("StateDir = %v", err)
			}
		})
	}
	t.Run("creates .mms 0700 when missing", func(t *testing.T) {
		dir := t.TempDir()
		p, err := StateDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
			t.Fatalf("%v %v", fi.Mode(), err)
		}
	})
	t.Run("refuses .mms owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("making a directory another user owns needs root")
		}
		dir := t.TempDir()
		p := filepath.Join(dir, ".mms")
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrStateDir) || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Fatalf("Open = %v", err)
		}
	})
}
