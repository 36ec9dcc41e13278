package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testwait"
)

func TestPutThroughAKeyring(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "web")
	writeFile(t, dir, "two.json", twoMachines)
	writeFile(t, dir, "web.json", webMachine)
	must(t, dir, "keyring", "init", "--out", "team.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
	must(t, dir, "keyring", "add-signer", "team.json", "--name", "web-team", "--key", "web.pub", "--machines", "web-*")
	must(t, dir, "keyring", "sign", "team.json", "root1.key")
	must(t, dir, "keyring", "sign", "team.json", "root2.key")
	writeFile(t, dir, "team-web.json", must(t, dir, "pack", "web.json", "web.key").stdout)
	writeFile(t, dir, "team-two.json", must(t, dir, "pack", "two.json", "web.key").stdout)
	put := func(file string, args ...string) result {
		return mms(t, dir, append(append([]string{"put", file, "--server", url}, twoRoots...), args...)...)
	}

	if r := put("team-web.json"); r.code != 1 || !strings.Contains(r.stderr, "no keyring at kv MACHINES/machines.keyring.N is signed by the --keyring-root given: nothing is published there") {
		t.Fatalf("put before the keyring: %+v", r)
	}
	must(t, dir, "keyring", "put", "team.json", "--server", url)
	if r := put("team-two.json"); r.code != 1 || !strings.Contains(r.stderr, `entry "db": signed by web-team (web-*)`) {
		t.Fatalf("put of an entry outside the scope: %+v", r)
	}
	if r := put("team-web.json"); r.code != 0 || !strings.Contains(r.stdout, "signature verified (keyring version 1: web-team)") {
		t.Fatalf("put: %+v", r)
	}
	// The published version binds: an older one the team signed is refused.
	old := must(t, dir, "pack", "--version", "5", "web.json", "web.key").stdout
	writeFile(t, dir, "old.json", old)
	if r := put("old.json"); r.code != 1 || !strings.Contains(r.stderr, "older than version") {
		t.Fatalf("put of an older version: %+v", r)
	}
}

// TestPutKeepsTheFloorOfAnExpiredSigner: nodes keep the version a signer signed after the
// signer expires, so mms put refuses a lower one then too (it judged the published value's
// signers as of now, took it for one no node accepted, and let the rollback through).
func TestPutKeepsTheFloorOfAnExpiredSigner(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "web", "ops")
	writeFile(t, dir, "web.json", webMachine)
	must(t, dir, "keyring", "init", "--out", "team.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
	must(t, dir, "keyring", "add-signer", "team.json", "--name", "web-team", "--key", "web.pub", "--machines", "web-*", "--expires", "2s")
	expired := time.Now().Add(2 * time.Second)
	must(t, dir, "keyring", "add-signer", "team.json", "--name", "ops", "--key", "ops.pub", "--machines", "*")
	must(t, dir, "keyring", "sign", "team.json", "root1.key")
	must(t, dir, "keyring", "sign", "team.json", "root2.key")
	must(t, dir, "keyring", "put", "team.json", "--server", url)
	put := func(file string) result {
		return mms(t, dir, append([]string{"put", file, "--server", url}, twoRoots...)...)
	}
	writeFile(t, dir, "team-web.json", must(t, dir, "pack", "web.json", "web.key").stdout)
	if r := put("team-web.json"); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	testwait.Eventually(t, 10*time.Second, "web-team to expire", func() bool { return time.Now().After(expired.Add(time.Second)) })
	writeFile(t, dir, "old.json", must(t, dir, "pack", "--version", "5", "web.json", "ops.key").stdout)
	if r := put("old.json"); r.code != 1 || !strings.Contains(r.stderr, "older than version") {
		t.Fatalf("put of an older version after the signer of the published one expired: %+v", r)
	}
}
