package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keyringStep: an operator sets up a keyring with two offline roots and a team signer for
// hello, with the mms CLI, and publishes it beside the key "team"; a Choria node running a
// machines watcher that trusts the keyring (db1's hand-placed "keyringed") installs what the
// team signs within its scope and refuses, changing nothing, what it signs outside it.
func (c *cluster) keyringStep(t *testing.T, events *notifications, version func() int64, hello, outside entry) {
	root1, root2, team := newSigner(t, "root1"), newSigner(t, "root2"), newSigner(t, "team")
	ring := filepath.Join(t.TempDir(), "keyring.json")
	mms(t, nil, "keyring", "init", "--root", root1.public, "--root", root2.public, "--threshold", "2", "--out", ring)
	mms(t, nil, "keyring", "add-signer", ring, "--name", "web-team", "--key", team.public, "--machines", "hello")
	mms(t, nil, "keyring", "sign", ring, root1.keyFile)
	mms(t, nil, "keyring", "sign", ring, root2.keyFile)
	if out := mms(t, nil, "keyring", "verify", ring, "--root", root1.public, "--root", root2.public, "--threshold", "2"); !strings.Contains(out, "web-team") {
		t.Fatalf("mms keyring verify printed %q", out)
	}
	mms(t, nil, "keyring", "put", ring, "--bucket", "MACHINES", "--key", "team", "--choria-config", c.clientConf)

	extra := mkdir(t, c.nodes[db1].dir, "team")
	def := readTemplate(t, filepath.Join("testdata", "machines", "keyringed", "machine.yaml"),
		"MACHINES_DIRECTORY", extra, "ROOT_1", root1.public, "ROOT_2", root2.public)
	if err := os.MkdirAll(c.nodes[db1].machineDir("keyringed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.nodes[db1].machineDir("keyringed"), "machine.yaml"), def, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, loadTimeout, "Choria on db1 to run keyringed", func() (bool, string) {
		states, err := c.machineStates(db1)
		if m, ok := states["keyringed"]; err == nil && ok && m.Version == "1.0.0" {
			return true, ""
		}
		return false, fmt.Sprintf("%v %v\n%s", states, err, grepLines(c.nodes[db1].log, "keyring"))
	})

	put := func(env []byte) time.Time {
		started := time.Now()
		c.mustChoria(nil, "kv", "put", "MACHINES", "team", string(env))
		return started
	}
	installed := func(name string) string { return yamlVersion(filepath.Join(extra, name, "machine.yaml")) }

	// Within the team's scope: taken, through the keyring the node walked to.
	v := version()
	started := put(pack(t, team, v, hello))
	n := events.await(t, applyTimeout, db1, "keyringed", started, fmt.Sprintf("version %d accepted", v), func(n notification) bool {
		return n.SpecVersion == v && n.Error == ""
	})
	if got := installed("hello"); got != "1.0.0" || !n.Signed {
		t.Fatalf("hello %q after a team-signed specification in scope (signed %v): %s", got, n.Signed, n)
	}
	if err := verifySums(filepath.Join(extra, "hello")); err != nil {
		t.Errorf("hello does not verify: %v", err)
	}
	if !c.nodes[db1].logContains("keyring updated") {
		t.Errorf("db1's log does not say it took the keyring")
	}

	// Outside it: refused as a whole, naming the entry and the signer's scope; nothing changes.
	before, err := snapshotDir(extra)
	if err != nil {
		t.Fatal(err)
	}
	started = put(pack(t, team, version(), hello, outside))
	n = events.await(t, applyTimeout, db1, "keyringed", started, "a refusal outside the team's scope", func(n notification) bool {
		return n.Outcome == "refused" && strings.Contains(n.Error, "outside the signers' scope") && strings.Contains(n.Error, fmt.Sprintf("%q", outside["name"]))
	})
	t.Logf("db1 keyringed: %s", n.Error)
	if after, err := snapshotDir(extra); err != nil || after != before {
		t.Errorf("a refused specification changed %s (%v):\nbefore:\n%s\nafter:\n%s", extra, err, before, after)
	}
	// A specification the roots' keys sign directly is no signer's: refused too.
	started = put(pack(t, root1, version(), hello))
	events.await(t, applyTimeout, db1, "keyringed", started, "a refusal of a root-signed specification", func(n notification) bool {
		return n.Outcome == "refused" && strings.Contains(n.Error, "signature refused")
	})
}

// grepLines is the lines of the file at path that hold text, for failure messages.
func grepLines(path, text string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
