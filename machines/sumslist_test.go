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
