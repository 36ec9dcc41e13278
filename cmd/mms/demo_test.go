package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/internal/testwait"
)

func TestDemoCommand(t *testing.T) {
	t.Run("runs every step to exit 0 in a fresh directory, and again in the same one", func(t *testing.T) {
		work := t.TempDir()
		for run := 1; run <= 2; run++ {
			r := mms(t, work, "demo")
			if r.code != 0 {
				t.Fatalf("run %d: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{
				"[7/7]",
				"install hello", // the second run installs again: the first one purged it
				"update hello",
				"remove hello",
				"All 7 steps worked",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("run %d: output lacks %q:\n%s", run, want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "FAILED") || r.stderr != "" {
				t.Errorf("run %d: failures or log noise:\n%s%s", run, r.stdout, r.stderr)
			}
		}
		dir := filepath.Join(work, "mms-demo", "machines")
		if _, err := os.Stat(filepath.Join(dir, ".mms", "state.json")); err != nil {
			t.Fatalf("the demo's agent kept no record: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello")); !os.IsNotExist(err) {
			t.Fatalf("the purged machine is still there: %v", err)
		}
		if s := staging(t, dir); len(s) > 0 {
			t.Fatalf("staging left behind: %v", s)
		}
	})

	t.Run("deploys into the directory --dir names", func(t *testing.T) {
		work := t.TempDir()
		r := mms(t, work, "demo", "--dir", "elsewhere/machines")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(work, "elsewhere", "machines", ".mms", "state.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(work, "mms-demo")); !os.IsNotExist(err) {
			t.Fatal("the default directory was created too")
		}
	})

	t.Run("refuses a directory that holds machines it did not create, touching nothing", func(t *testing.T) {
		work := t.TempDir()
		dir := filepath.Join(work, "mms-demo", "machines")
		if err := os.MkdirAll(filepath.Join(dir, "hello"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeText(t, filepath.Join(dir, "hello", "machine.yaml"), "mine")
		before := dirSnapshot(t, dir)
		r := mms(t, work, "demo")
		if r.code != 2 || !strings.Contains(r.stderr, "holds what the demo did not create (hello)") {
			t.Fatalf("exit %d, want 2 and the reason:\n%s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "the machines directory", dirSnapshot(t, dir), before)
	})

	t.Run("refuses a directory an agent manages, which it would purge and freeze", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		key := newSigner(t)
		url := natsServer(t).ClientURL()
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--purge", "--splay", "0s")
		key.put(t, url, key.pack(t, 1, arch.machine(t, "web", "real")))
		testwait.Eventually(t, waitLong, "the agent's install", func() bool { return fileSays(filepath.Join(dir, "web", "greeting.txt"), "real") })
		r := mms(t, work, "demo", "--dir", dir)
		if r.code != 2 || !strings.Contains(r.stderr, "holds what the demo did not create") {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		p.stop(t)
		if !fileSays(filepath.Join(dir, "web", "greeting.txt"), "real") {
			t.Fatal("the demo touched the agent's machine")
		}
	})

	t.Run("refuses its own directory while another process holds it, naming it", func(t *testing.T) {
		work := t.TempDir()
		if r := mms(t, work, "demo"); r.code != 0 {
			t.Fatalf("first demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		dir := filepath.Join(work, "mms-demo", "machines")
		p := startMMS(t, work, "agent", "--dir", dir, "--insecure", "--embedded-port", "0")
		waitForLog(t, p, "node loop starting")
		r := mms(t, work, "demo")
		if r.code == 0 || !strings.Contains(r.stderr, "locked") || !strings.Contains(r.stderr, "(mms agent)") {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("fails with a non-zero exit when the machines directory cannot be made", func(t *testing.T) {
		work := t.TempDir()
		writeText(t, filepath.Join(work, "notadir"), "")
		if r := mms(t, work, "demo", "--dir", "notadir/machines"); r.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}
