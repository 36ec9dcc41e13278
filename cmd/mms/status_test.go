package main

import (
	"encoding/json"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines/spec"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusCommand(t *testing.T) {
	t.Run("says mms manages nothing in a directory it never touched", func(t *testing.T) {
		_, dir := machinesDir(t)
		r := mms(t, t.TempDir(), "status", "--dir", dir)
		if r.code != 0 || !strings.Contains(r.stdout, "mms manages nothing in") {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("refuses a corrupt record rather than guessing", func(t *testing.T) {
		_, dir := machinesDir(t)
		if err := os.Mkdir(filepath.Join(dir, ".mms"), 0o700); err != nil {
			t.Fatal(err)
		}
		writeText(t, filepath.Join(dir, stateFile), `{"machines": {"../evil": {"name": "../evil"}}}`)
		r := mms(t, t.TempDir(), "status", "--dir", dir)
		if r.code != 2 || !strings.Contains(r.stderr, "install record unreadable") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("shows a machine missing from disk and the last refusal", func(t *testing.T) {
		srv := natsServer(t)
		url := srv.ClientURL()
		key := newSigner(t)
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub)
		key.put(t, url, key.pack(t, 2, hello))
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "hi") })
		key.put(t, url, key.pack(t, 1, hello), "--force")
		waitForLog(t, p, "rollback refused")
		testwait.Eventually(t, waitLong, "the refusal is saved", func() bool {
			lr, ok, _ := readLastReport(dir)
			return ok && lr.Refused != ""
		})
		if err := os.RemoveAll(filepath.Join(dir, "hello")); err != nil {
			t.Fatal(err)
		}
		r := mms(t, work, "status", "--dir", dir)
		for _, want := range []string{"on disk: MISSING", "specification REFUSED, nothing changed: rollback refused"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "degraded: hello is missing; the last specification was refused") {
			t.Errorf("a degraded directory: exit %d, stderr %q, want 1 and why", r.code, r.stderr)
		}
	})

	t.Run("is a health check: 0 while every machine verifies, 1 once a file is tampered with", func(t *testing.T) {
		dir, machinesDir := t.TempDir(), t.TempDir()
		pub, priv := keyPair(t, dir)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		b, err := json.Marshal([]spec.Entry{hello})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "machines.json", string(b))
		writeFile(t, dir, "spec.json", mms(t, dir, "pack", "machines.json", priv).stdout)
		if r := mms(t, dir, "apply", "spec.json", "--dir", machinesDir, "--public-key", pub); r.code != 0 {
			t.Fatalf("apply: %+v", r)
		}
		r := mms(t, dir, "status", "--dir", machinesDir)
		if r.code != 0 || !strings.Contains(r.stdout, "on disk: present, verified") || !strings.Contains(r.stdout, "version: ") {
			t.Fatalf("healthy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		doc := statusJSON(t, dir, machinesDir, 0)
		if !doc.Healthy || len(doc.Machines) != 1 || !doc.Machines[0].Verified || doc.Machines[0].Checksum != hello.Checksum || doc.Accepted == nil || doc.Accepted.Format != 2 {
			t.Fatalf("healthy --json: %+v", doc)
		}
		writeText(t, filepath.Join(machinesDir, "hello", "greeting.txt"), "tampered")
		r = mms(t, dir, "status", "--dir", machinesDir)
		if r.code != 1 || !strings.Contains(r.stdout, "FAILS verification") || !strings.Contains(r.stderr, "degraded: hello fails verification") {
			t.Fatalf("tampered: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		doc = statusJSON(t, dir, machinesDir, 1)
		if doc.Healthy || doc.Machines[0].Verified || !strings.Contains(doc.Machines[0].Problem, "greeting.txt") || len(doc.Degraded) != 1 {
			t.Fatalf("tampered --json: %+v", doc)
		}
	})
}

// statusJSON runs mms status --json on machinesDir, wants exit code want, and decodes its
// document strictly.
func statusJSON(t *testing.T, work, machinesDir string, want int) statusDoc {
	t.Helper()
	r := mms(t, work, "status", "--dir", machinesDir, "--json")
	if r.code != want {
		t.Fatalf("status --json: exit %d, want %d: %s%s", r.code, want, r.stdout, r.stderr)
	}
	var doc statusDoc
	decodeStrict(t, r.stdout, &doc)
	if doc.Schema != "mms.status.v1" {
		t.Fatalf("schema %q", doc.Schema)
	}
	return doc
}
