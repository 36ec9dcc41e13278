package machines

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

// handmade packs files (path to content) under name/ with a SHA256SUMS that lists only listed,
// as an archive tool other than mms archive might, and serves it; it returns the entry.
func (f *fixture) handmade(t *testing.T, name string, files map[string]string, listed ...string) spec.Entry {
	t.Helper()
	var sumsFile strings.Builder
	for _, p := range listed {
		h := sha256.Sum256([]byte(files[p]))
		sumsFile.WriteString(hex.EncodeToString(h[:]) + "  " + p + "\n")
	}
	all := map[string]string{"SHA256SUMS": sumsFile.String()}
	for p, c := range files {
		all[p] = c
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for p, c := range all {
		if err := tw.WriteHeader(&tar.Header{Name: name + "/" + p, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()
	sum, vsum := sha256.Sum256(body), sha256.Sum256([]byte(sumsFile.String()))
	url := f.srv.Put("/"+name+"-handmade.tgz", body)
	return spec.Entry{Name: name, Source: url, Checksum: hex.EncodeToString(sum[:]), VerifyChecksum: hex.EncodeToString(vsum[:])}
}

func TestSHA256SUMSMustCoverTheArchive(t *testing.T) {
	files := map[string]string{"machine.yaml": "name: web\n", "hook.sh": "#!/bin/sh\nexit 0\n"}

	t.Run("refuses an archive whose SHA256SUMS lists nothing, installing nothing", func(t *testing.T) {
		f := newFixture(t)
		rep := f.reconcile(f.envelope(nil, f.handmade(t, "web", files)))
		r := result(t, rep, "web")
		if !errors.Is(r.Err, errs.ErrUnsafeArchive) || !strings.Contains(r.Err.Error(), "lists no file") {
			t.Fatalf("result %+v", r)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "web")); !os.IsNotExist(err) {
			t.Fatalf("web was installed: %v", err)
		}
	})

	t.Run("refuses an archive whose SHA256SUMS leaves a file out, naming it", func(t *testing.T) {
		f := newFixture(t)
		rep := f.reconcile(f.envelope(nil, f.handmade(t, "web", files, "machine.yaml")))
		r := result(t, rep, "web")
		if !errors.Is(r.Err, errs.ErrUnsafeArchive) || !strings.Contains(r.Err.Error(), "does not list hook.sh") {
			t.Fatalf("result %+v", r)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "web")); !os.IsNotExist(err) {
			t.Fatalf("web was installed: %v", err)
		}
	})

	t.Run("installs one whose SHA256SUMS lists every file", func(t *testing.T) {
		f := newFixture(t)
		rep := f.reconcile(f.envelope(nil, f.handmade(t, "web", files, "hook.sh", "machine.yaml")))
		if r := result(t, rep, "web"); r.Failed() || r.Action != ActionInstall {
			t.Fatalf("result %+v", r)
		}
	})
}

func TestNoCredentialOnDisk(t *testing.T) {
	t.Run("the record, the report and the log name a source by scheme, host and path only", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry("web", "1", map[string]string{"a.txt": "a"})
		e.Source += "?token=TOKEN-SECRET"
		e.Username, e.Password = "USER-SECRET", "PASS-SECRET"
		var logs bytes.Buffer
		cfg := f.config()
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		rep := Reconcile(context.Background(), cfg, f.envelope(nil, e))
		if r := result(t, rep, "web"); r.Failed() {
			t.Fatalf("result %+v", r)
		}
		state, err := os.ReadFile(filepath.Join(f.dir, ".mms", "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"TOKEN-SECRET", "USER-SECRET", "PASS-SECRET", "token="} {
			if strings.Contains(string(state), secret) {
				t.Errorf("state.json holds %q:\n%s", secret, state)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log holds %q:\n%s", secret, logs.String())
			}
			for _, r := range rep.Results {
				if strings.Contains(r.Reason, secret) {
					t.Errorf("the report holds %q: %+v", secret, r)
				}
			}
		}
	})
}

func TestStrays(t *testing.T) {
	files := map[string]string{"machine.yaml": "name: web\n", "bin/run": "#!/bin/sh\n"}

	// placed installs web elsewhere and moves it into f's directory, as a hand-placed copy.
	placed := func(t *testing.T, f *fixture, e spec.Entry) string {
		other := t.TempDir()
		cfg := f.config()
		cfg.Dir = other
		if rep := Reconcile(context.Background(), cfg, f.envelope(nil, e)); rep.Failed() {
			t.Fatalf("install elsewhere: %+v", rep)
		}
		dir := filepath.Join(f.dir, e.Name)
		if err := os.Rename(filepath.Join(other, e.Name), dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("does not adopt a hand-placed copy holding a file its SHA256SUMS does not list, nor touch it", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry("web", "1", files)
		dir := placed(t, f, e)
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := result(t, f.reconcile(f.envelope(nil, e)), "web")
		if r.Action != ActionRefuse || !errors.Is(r.Err, errs.ErrNotManaged) || !strings.Contains(r.Reason, "notes.txt") {
			t.Fatalf("web: %+v", r)
		}
		// A later specification without web purges nothing of it.
		f.reconcile(f.envelope(nil))
		if readFile(t, filepath.Join(dir, "notes.txt")) != "mine\n" {
			t.Fatal("the hand-placed file is gone")
		}
	})

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		check  func(t *testing.T, dir string)
		reason string
	}{
		{"removes a file planted in a managed machine", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "bin", "backdoor"), []byte("x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if _, err := os.Stat(filepath.Join(dir, "bin", "backdoor")); !os.IsNotExist(err) {
				t.Fatalf("the planted file is still there: %v", err)
			}
		}, "bin/backdoor"},
		{"takes away a setuid bit", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "bin", "run"), os.ModeSetuid|0o755); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if fi, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || fi.Mode()&os.ModeSetuid != 0 {
				t.Fatalf("mode %v, %v", fi.Mode(), err)
			}
		}, "which no archive mms installs gives"},
		{"restores the mode its archive gave a file", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "bin", "run"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if fi, err := os.Stat(filepath.Join(dir, "bin", "run")); err != nil || fi.Mode().Perm() != 0o644 {
				t.Fatalf("mode %v, %v", fi.Mode(), err)
			}
		}, "its archive gave it 0644"},
		{"takes back a file given to another owner", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			if err := os.Chown(filepath.Join(dir, "machine.yaml"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			fi, err := os.Stat(filepath.Join(dir, "machine.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if uid, _ := fi.Sys().(*syscall.Stat_t); uid == nil || int(uid.Uid) != os.Geteuid() {
				t.Fatalf("owner %+v", fi.Sys())
			}
		}, "owned by uid 65534"},
		{"takes away world write from the machine directory", func(t *testing.T, dir string) {
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, dir string) {
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o022 != 0 {
				t.Fatalf("mode %v, %v", fi.Mode(), err)
			}
		}, "which no archive mms installs gives"},
	} {
		t.Run("repair "+tc.name, func(t *testing.T) {
			f := newFixture(t)
			e := f.entry("web", "1", files)
			env := f.envelope(nil, e)
			if r := result(t, f.reconcile(env), "web"); r.Failed() {
				t.Fatalf("install: %+v", r)
			}
			dir := filepath.Join(f.dir, "web")
			tc.tamper(t, dir)
			r := result(t, f.reconcile(env), "web")
			if r.Action != ActionRepair || r.Failed() || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("web: %+v", r)
			}
			tc.check(t, dir)
			if r := result(t, f.reconcile(env), "web"); r.Action != ActionKeep {
				t.Fatalf("after the repair: %+v", r)
			}
		})
	}
}

func TestStraysKeepEmptyDirectories(t *testing.T) {
	t.Run("an empty directory in a managed machine is no stray", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry("web", "1", map[string]string{"machine.yaml": "name: web\n"})
		env := f.envelope(nil, e)
		if r := result(t, f.reconcile(env), "web"); r.Failed() {
			t.Fatalf("install: %+v", r)
		}
		if err := os.MkdirAll(filepath.Join(f.dir, "web", "data", "cache"), 0o755); err != nil {
			t.Fatal(err)
		}
		if r := result(t, f.reconcile(env), "web"); r.Action != ActionKeep {
			t.Fatalf("web: %+v", r)
		}
	})
}
