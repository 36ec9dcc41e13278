package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testkeyring"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

// teamPack signs entries as version v with the keyring signer p's key.
func teamPack(t *testing.T, p testkeyring.Pair, v int64, entries ...spec.Entry) []byte {
	t.Helper()
	return signer{pub: p.Hex(), priv: p.Priv}.pack(t, v, entries...)
}

// TestAgentKeyring: mms agent trusting a keyring (and no bare key) reads it beside the
// specification's key, takes a team signer's specification within its scope, refuses one
// outside it, and walks to a newer keyring published later; mms apply does the same from files.
func TestAgentKeyring(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	ctx := context.Background()
	roots := []testkeyring.Pair{testkeyring.NewPair(t), testkeyring.NewPair(t)}
	team, ops := testkeyring.NewPair(t), testkeyring.NewPair(t)
	d1 := testkeyring.Draft(1, roots, 2, testkeyring.Signer("web-team", team, "web-*"))
	k1 := testkeyring.Document(t, d1, roots...)
	d2 := d1
	d2.Version, d2.Signers = 2, append(d1.Signers, testkeyring.Signer("ops", ops, "*"))
	k2 := testkeyring.Document(t, d2, roots...)
	anchor := []string{"--keyring-root", roots[0].Hex(), "--keyring-root", roots[1].Hex(), "--keyring-threshold", "2"}

	t.Run("mms agent", func(t *testing.T) {
		if _, err := kvspec.Create(ctx, js, "KEYRING", kvspec.KeyringKey("team", 1), k1, kvspec.BucketConfig{}); err != nil {
			t.Fatal(err)
		}
		work, dir := machinesDir(t)
		arch := newArchives(t)
		web, db := arch.machine(t, "web-a", "web"), arch.machine(t, "db-1", "db")
		p := startMMS(t, work, append([]string{"agent", "--dir", dir, "--server", url, "--bucket", "KEYRING", "--key", "team", "--splay", "0", "--purge"}, anchor...)...)
		waitForLog(t, p, "trusting a keyring")

		put := func(env []byte) {
			t.Helper()
			if _, err := kvspec.Put(ctx, js, "KEYRING", "team", env, kvspec.BucketConfig{}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().UnixMilli()
		put(teamPack(t, team, now, web))
		testwait.Eventually(t, waitLong, "web-a installed from the team's specification", func() bool {
			return fileSays(filepath.Join(dir, "web-a", "greeting.txt"), "web")
		})
		waitForLog(t, p, "keyring updated")

		put(teamPack(t, team, now+1, web, db))
		waitForLog(t, p, "outside the signers' scope")
		if _, err := os.Stat(filepath.Join(dir, "db-1")); !os.IsNotExist(err) {
			t.Fatalf("db-1, outside the team's scope, is installed: %v", err)
		}

		// ops is a signer only from keyring version 2 on: refused before it is published.
		put(teamPack(t, ops, now+2, web, db))
		waitForLog(t, p, "keyring version 1 needs 1 signature(s)")
		if _, err := kvspec.Create(ctx, js, "KEYRING", kvspec.KeyringKey("team", 2), k2, kvspec.BucketConfig{}); err != nil {
			t.Fatal(err)
		}
		put(teamPack(t, ops, now+3, web, db))
		testwait.Eventually(t, waitLong, "db-1 installed from ops's specification after keyring version 2", func() bool {
			return fileSays(filepath.Join(dir, "db-1", "greeting.txt"), "db")
		})
		if _, err := os.Stat(filepath.Join(dir, ".mms", "keyring.json")); err != nil {
			t.Fatalf("the keyring reached is not kept: %v", err)
		}
		if code := p.stop(t); code != 0 {
			t.Fatalf("agent exited %d", code)
		}
	})

	t.Run("mms apply", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		db := arch.machine(t, "db-1", "db")
		files := map[string][]byte{"k1.json": k1, "k2.json": k2, "spec.json": teamPack(t, ops, time.Now().UnixMilli(), db)}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(work, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := mms(t, work, append([]string{"apply", "spec.json", "--dir", dir, "--keyring", "k1.json"}, anchor...)...)
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "keyring version 1 needs 1 signature(s)") {
			t.Fatalf("with keyring version 1 only: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		r = mms(t, work, append([]string{"apply", "spec.json", "--dir", dir, "--keyring", "k2.json", "--keyring", "k1.json"}, anchor...)...)
		if r.code != 0 || !fileSays(filepath.Join(dir, "db-1", "greeting.txt"), "db") {
			t.Fatalf("with both versions: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		r = mms(t, work, "apply", "spec.json", "--dir", dir, "--keyring", "k1.json")
		if r.code != 2 || !strings.Contains(r.stderr, "--keyring needs --keyring-root") {
			t.Fatalf("--keyring without roots: exit %d: %s", r.code, r.stderr)
		}
		r = mms(t, work, "apply", "spec.json", "--dir", dir, "--keyring-root", roots[0].Hex(), "--keyring-root", roots[1].Hex())
		if r.code != 2 || !strings.Contains(r.stderr, "say how many must sign") {
			t.Fatalf("two roots, no threshold: exit %d: %s", r.code, r.stderr)
		}
	})
}
