package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

// keyFiles runs `mms keys --out NAME` in dir for each name (NAME.key, NAME.pub).
func keyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if r := mms(t, dir, "keys", "--out", n); r.code != 0 {
			t.Fatalf("mms keys --out %s: %+v", n, r)
		}
	}
}

// pubHex is the key a .pub file of dir holds.
func pubHex(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// must runs mms in dir and fails unless it exits 0.
func must(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := mms(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("mms %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// mmsRefused runs mms in dir and fails unless it exits code saying each of says on stderr.
func mmsRefused(t *testing.T, dir string, code int, says []string, args ...string) result {
	t.Helper()
	r := mms(t, dir, args...)
	if r.code != code {
		t.Fatalf("mms %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, s := range says {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("mms %s: stderr lacks %q:\n%s", strings.Join(args, " "), s, r.stderr)
		}
	}
	return r
}

// readKeyringFile parses a keyring file of dir.
func readKeyringFile(t *testing.T, dir, name string) *keyring.Keyring {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.Parse(doc)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// oldRoots are the flags of the three roots of the keyrings of these tests, 2 of which sign.
var oldRoots = []string{"--root", "root1.pub", "--root", "root2.pub", "--root", "root3.pub", "--threshold", "2"}

// signedKeyring writes name: version 1 with the three roots (2 must sign), signer web-team
// for web-*, signed by root1 and root2.
func signedKeyring(t *testing.T, dir, name string) {
	t.Helper()
	must(t, dir, append([]string{"keyring", "init", "--out", name}, oldRoots...)...)
	must(t, dir, "keyring", "add-signer", name, "--name", "web-team", "--key", "web.pub", "--machines", "web-*")
	must(t, dir, "keyring", "sign", name, "root1.key")
	must(t, dir, "keyring", "sign", name, "root2.key")
}

func TestKeyringCommands(t *testing.T) {
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "root3", "web", "ops", "new1", "new2")

	t.Run("init refuses a root threshold of 0, one above the roots, and none with several roots", func(t *testing.T) {
		mmsRefused(t, dir, 2, []string{"root threshold 0 must be between 1 and the 3 root key(s)"}, "keyring", "init", "--out", "bad.json", "--root", "root1.pub", "--root", "root2.pub", "--root", "root3.pub", "--threshold", "0")
		mmsRefused(t, dir, 2, []string{"root threshold 4 must be between 1 and the 3 root key(s)"}, "keyring", "init", "--out", "bad.json", "--root", "root1.pub", "--root", "root2.pub", "--root", "root3.pub", "--threshold", "4")
		mmsRefused(t, dir, 2, []string{"say how many must sign", "give --threshold"}, "keyring", "init", "--out", "bad.json", "--root", "root1.pub", "--root", "root2.pub")
		mmsRefused(t, dir, 2, []string{"root threshold 0 must be between 1 and the 1 root key(s)"}, "keyring", "init", "--out", "bad.json", "--root", "root1.pub", "--threshold", "0")
		mmsRefused(t, dir, 2, []string{"spec_threshold"}, "keyring", "init", "--out", "bad.json", "--root", "root1.pub", "--spec-threshold", "0")
		if _, err := os.Stat(filepath.Join(dir, "bad.json")); err == nil {
			t.Fatal("a refused init wrote its --out")
		}
		must(t, dir, "keyring", "init", "--out", "one.json", "--root", "root1.pub")
		if k := readKeyringFile(t, dir, "one.json"); k.Version != 1 || k.RootThreshold != 1 || len(k.Signatures) != 0 || k.SpecThreshold != 1 {
			t.Fatalf("one root, no threshold: %+v", k)
		}
		mmsRefused(t, dir, 1, []string{"one.json exists", "--force"}, "keyring", "init", "--out", "one.json", "--root", "root2.pub")
		must(t, dir, "keyring", "init", "--out", "one.json", "--root", "root2.pub", "--force", "--version", "4", "--expires", "24h")
		if k := readKeyringFile(t, dir, "one.json"); k.Version != 4 || keyring.Position(k.Roots, mustPub(t, pubHex(t, dir, "root2"))) == 0 || k.Expires.Sub(k.Issued).Hours() != 24 {
			t.Fatalf("--force --version 4 --expires 24h: %+v", k)
		}
	})

	t.Run("init, add-signer, sign and verify: a 2-of-3 keyring signed by one root is refused with the reason", func(t *testing.T) {
		must(t, dir, append([]string{"keyring", "init", "--out", "k.json"}, oldRoots...)...)
		must(t, dir, "keyring", "add-signer", "k.json", "--name", "web-team", "--key", "web.pub", "--machines", "web-*", "--machines", "www-*")
		r := must(t, dir, "keyring", "sign", "k.json", "root1.key")
		if !strings.Contains(r.stdout, "root 1 of 3; 2 of 3 signatures needed, now 1") {
			t.Errorf("sign by root1 says:\n%s", r.stdout)
		}
		mmsRefused(t, dir, 1, []string{"keyring version 1 is signed by 1 of the configured 3 root key(s), 2 needed"}, append([]string{"keyring", "verify", "k.json"}, oldRoots...)...)
		r = mmsRefused(t, dir, 1, []string{"no --root given", "signed by 1 of its own 3 root key(s), 2 needed"}, "keyring", "verify", "k.json")
		if !strings.Contains(r.stdout, "its own roots: 1 of 3, 2 needed, NOT MET") {
			t.Errorf("verify says:\n%s", r.stdout)
		}
		r = must(t, dir, "keyring", "sign", "k.json", "root3.key")
		if !strings.Contains(r.stdout, "root 3 of 3; 2 of 3 signatures needed, now 2") {
			t.Errorf("sign by root3 says:\n%s", r.stdout)
		}
		mmsRefused(t, dir, 1, []string{"has already signed keyring version 1"}, "keyring", "sign", "k.json", "root3.key")
		r = must(t, dir, append([]string{"keyring", "verify", "k.json"}, oldRoots...)...)
		for _, want := range []string{"Keyring version 1 (k.json): trusted", "the roots given: 2 of 3, 2 needed, met", "web-team " + pubHex(t, dir, "web") + " (web-*, www-*) expires", "Trusted: keyring version 1"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("verify lacks %q:\n%s", want, r.stdout)
			}
		}
		var doc keyringVerifyDoc
		decodeStrict(t, must(t, dir, append([]string{"keyring", "verify", "k.json", "--json"}, oldRoots...)...).stdout, &doc)
		v := doc.Versions[0]
		if doc.Schema != "mms.keyring-verify.v1" || !doc.Trusted || doc.TrustedVersion != 1 || doc.Anchor.From != "roots given" || len(doc.Versions) != 1 ||
			v.Status != "trusted" || v.OwnRoots != (quorum{Signed: 2, Needed: 2, Of: 3, Met: true}) || len(v.Signatures) != 2 || v.Signatures[1].Root != 3 || !v.Signatures[1].Verifies ||
			len(v.Signers) != 1 || v.Signers[0].Name != "web-team" || v.Signers[0].Key != pubHex(t, dir, "web") || v.Signers[0].Expired || v.SpecThreshold != 1 {
			t.Fatalf("verify --json: %+v", doc)
		}
	})

	t.Run("edits refuse a duplicate signer, a root's key, an unknown signer and a bad pattern", func(t *testing.T) {
		must(t, dir, append([]string{"keyring", "init", "--out", "draft.json"}, oldRoots...)...)
		must(t, dir, "keyring", "add-signer", "draft.json", "--name", "web-team", "--key", "web.pub", "--machines", "web-*")
		before, _ := os.ReadFile(filepath.Join(dir, "draft.json"))
		mmsRefused(t, dir, 1, []string{"already has a signer web-team"}, "keyring", "add-signer", "draft.json", "--name", "web-team", "--key", "ops.pub", "--machines", "*")
		mmsRefused(t, dir, 1, []string{"is already signer web-team's"}, "keyring", "add-signer", "draft.json", "--name", "ops", "--key", "web.pub", "--machines", "*")
		mmsRefused(t, dir, 1, []string{"is a root key of keyring version 1"}, "keyring", "add-signer", "draft.json", "--name", "ops", "--key", "root1.pub", "--machines", "*")
		mmsRefused(t, dir, 2, []string{`pattern "web-[": syntax error in pattern`}, "keyring", "add-signer", "draft.json", "--name", "ops", "--key", "ops.pub", "--machines", "web-[")
		mmsRefused(t, dir, 1, []string{"needs a \"name\""}, "keyring", "add-signer", "draft.json", "--name", "ops/x", "--key", "ops.pub", "--machines", "*")
		mmsRefused(t, dir, 1, []string{"has no signer db-team (it has signers web-team)"}, "keyring", "remove-signer", "draft.json", "--name", "db-team")
		mmsRefused(t, dir, 1, []string{"spec_threshold 2 is more than its 1 signer(s)"}, "keyring", "set", "draft.json", "--spec-threshold", "2")
		mmsRefused(t, dir, 2, []string{"give --spec-threshold or --expires"}, "keyring", "set", "draft.json")
		mmsRefused(t, dir, 2, []string{"spec_threshold 2 is more than its 0 signer(s)"}, append([]string{"keyring", "init", "--out", "two.json", "--spec-threshold", "2"}, oldRoots...)...)
		if after, _ := os.ReadFile(filepath.Join(dir, "draft.json")); !bytes.Equal(before, after) {
			t.Fatal("a refused edit changed the file")
		}
		must(t, dir, "keyring", "add-signer", "draft.json", "--name", "ops", "--key", "ops.pub", "--machines", "*", "--expires", "1h")
		must(t, dir, "keyring", "set", "draft.json", "--spec-threshold", "2")
		mmsRefused(t, dir, 1, []string{"needs 2 signers per specification and would keep 1", "--spec-threshold 1"}, "keyring", "remove-signer", "draft.json", "--name", "ops")
		must(t, dir, "keyring", "set", "draft.json", "--spec-threshold", "1")
		must(t, dir, "keyring", "remove-signer", "draft.json", "--name", "ops")
		k := readKeyringFile(t, dir, "draft.json")
		if k.Version != 1 || len(k.Signers) != 1 || k.Signers[0].Name != "web-team" || k.SpecThreshold != 1 {
			t.Fatalf("after the edits: %+v", k)
		}
	})

	t.Run("an edit of a signed keyring makes the next version, unsigned, that both versions' roots must sign", func(t *testing.T) {
		signedKeyring(t, dir, "s1.json")
		before, _ := os.ReadFile(filepath.Join(dir, "s1.json"))
		r := must(t, dir, "keyring", "add-signer", "s1.json", "--name", "ops", "--key", "ops.pub", "--machines", "*", "--out", "s2.json")
		if !strings.Contains(r.stdout, "keyring version 2, unsigned") || !strings.Contains(r.stdout, "signed by 2 of version 1's 3 root(s) and by 2 of its own 3 root(s)") {
			t.Errorf("add-signer says:\n%s", r.stdout)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "s1.json")); !bytes.Equal(before, after) {
			t.Fatal("--out changed FILE")
		}
		k := readKeyringFile(t, dir, "s2.json")
		if k.Version != 2 || len(k.Signatures) != 0 || len(k.Signers) != 2 {
			t.Fatalf("the next version: %+v", k)
		}
		must(t, dir, "keyring", "remove-signer", "s2.json", "--name", "web-team")
		if k := readKeyringFile(t, dir, "s2.json"); k.Version != 2 || len(k.Signers) != 1 || k.Signers[0].Name != "ops" {
			t.Fatalf("a draft is edited in place at its version: %+v", k)
		}
		mmsRefused(t, dir, 1, []string{"--out s2.json exists"}, "keyring", "add-signer", "s1.json", "--name", "x", "--key", "new1.pub", "--machines", "*", "--out", "s2.json")
		// In place, the signed version becomes the next.
		must(t, dir, "keyring", "set", "s1.json", "--expires", "48h")
		if k := readKeyringFile(t, dir, "s1.json"); k.Version != 2 || len(k.Signatures) != 0 || k.Expires.Sub(k.Issued).Hours() < 47 {
			t.Fatalf("set --expires in place: %+v", k)
		}
	})

	t.Run("a rotation signed by the old and the new roots verifies; one signed only by the new roots is refused", func(t *testing.T) {
		signedKeyring(t, dir, "r1.json")
		r := must(t, dir, "keyring", "set-roots", "r1.json", "--root", "new1.pub", "--root", "new2.pub", "--threshold", "2", "--out", "r2.json")
		if !strings.Contains(r.stdout, "signed by 2 of version 1's 3 root(s) and by 2 of its own 2 root(s)") {
			t.Errorf("set-roots says:\n%s", r.stdout)
		}
		must(t, dir, "keyring", "sign", "r2.json", "new1.key")
		must(t, dir, "keyring", "sign", "r2.json", "new2.key")
		r = mmsRefused(t, dir, 1, []string{"nodes stay at version 1", "keyring version 2 is signed by 0 of version 1's 3 root key(s), 2 needed"}, append([]string{"keyring", "verify", "r2.json", "r1.json"}, oldRoots...)...)
		if !strings.Contains(r.stdout, "Keyring version 2 (r2.json): refused") || !strings.Contains(r.stdout, "version 1's roots: 0 of 3, 2 needed, NOT MET") {
			t.Errorf("verify says:\n%s", r.stdout)
		}
		r = mms(t, dir, "keyring", "sign", "r2.json", "root1.key")
		if r.code != 0 || !strings.Contains(r.stderr, "is not a root of keyring version 2: its signature counts only as a root of the version before") {
			t.Fatalf("an old root signs the new version: %+v", r)
		}
		must(t, dir, "keyring", "sign", "r2.json", "root3.key")
		r = must(t, dir, append([]string{"keyring", "verify", "r2.json", "r1.json"}, oldRoots...)...)
		if !strings.Contains(r.stdout, "Keyring version 2 (r2.json): trusted") || !strings.Contains(r.stdout, "Trusted: keyring version 2") {
			t.Errorf("verify says:\n%s", r.stdout)
		}
		// A node configured with the new roots passes over version 1.
		var doc keyringVerifyDoc
		decodeStrict(t, must(t, dir, "keyring", "verify", "r1.json", "r2.json", "--root", "new1.pub", "--root", "new2.pub", "--threshold", "2", "--json").stdout, &doc)
		if !doc.Trusted || doc.TrustedVersion != 2 || doc.Versions[0].Status != "skipped" || doc.Versions[1].Status != "trusted" || doc.Versions[1].PreviousRoots == nil || !doc.Versions[1].PreviousRoots.Met {
			t.Fatalf("verify --json from the new roots: %+v", doc)
		}
		// Without --root, the lowest version's own roots are trusted, loudly.
		if r := must(t, dir, "keyring", "verify", "r1.json", "r2.json"); !strings.Contains(r.stderr, "warning: no --root given: trusting the 3 root(s) that keyring version 1 (r1.json) names itself") {
			t.Errorf("verify without --root: %+v", r)
		}
	})

	t.Run("verify refuses versions with a gap, and two different keyrings of one version", func(t *testing.T) {
		signedKeyring(t, dir, "g1.json")
		must(t, dir, "keyring", "set", "g1.json", "--expires", "24h", "--out", "g2.json")
		must(t, dir, "keyring", "sign", "g2.json", "root1.key")
		must(t, dir, "keyring", "sign", "g2.json", "root2.key")
		must(t, dir, "keyring", "set", "g2.json", "--expires", "24h", "--out", "g3.json")
		mmsRefused(t, dir, 1, []string{"keyring versions 1 and 3 are given, not the 1 between them"}, "keyring", "verify", "g1.json", "g3.json")
		must(t, dir, "keyring", "verify", "g1.json", "g2.json")
		must(t, dir, "keyring", "add-signer", "g1.json", "--name", "ops", "--key", "ops.pub", "--machines", "*", "--out", "other2.json")
		mmsRefused(t, dir, 1, []string{"are two different keyrings of version 2"}, "keyring", "verify", "g1.json", "g2.json", "other2.json")
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"keyring", "init", "--out", "u.json"},
			{"keyring", "init", "--root", "root1.pub"},
			{"keyring", "init", "--root", "abcd", "--out", "u.json"},
			{"keyring", "add-signer", "k.json", "--name", "x", "--key", "ops.pub"},
			{"keyring", "verify", "k.json", "--threshold", "2"},
			{"keyring", "verify", "k.json", "--root", "root1.pub", "--root", "root2.pub"},
			{"keyring", "sign", "k.json"},
			{"keyring"},
		} {
			if r := mms(t, dir, args...); r.code != 2 {
				t.Errorf("mms %v: exit %d, want 2: %s", args, r.code, r.stderr)
			}
		}
	})
}

func TestKeyringPut(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "root3", "web", "ops", "new1", "new2")
	put := func(file string, args ...string) result {
		return mms(t, dir, append([]string{"keyring", "put", file, "--server", url}, args...)...)
	}
	stored := func(t *testing.T, key string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		e, err := kvspec.Get(ctx, js, defaultBucket, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return e.Value
	}

	// Version 1; version 2 rotates the roots (signed only by the new ones, and by both);
	// version 3 follows version 2; another version 2 adds a signer.
	signedKeyring(t, dir, "v1.json")
	must(t, dir, "keyring", "set-roots", "v1.json", "--root", "new1.pub", "--root", "new2.pub", "--threshold", "2", "--out", "only-new.json")
	must(t, dir, "keyring", "sign", "only-new.json", "new1.key")
	must(t, dir, "keyring", "sign", "only-new.json", "new2.key")
	doc, _ := os.ReadFile(filepath.Join(dir, "only-new.json"))
	writeFile(t, dir, "v2.json", string(doc))
	must(t, dir, "keyring", "sign", "v2.json", "root1.key")
	must(t, dir, "keyring", "sign", "v2.json", "root2.key")
	must(t, dir, "keyring", "set", "v2.json", "--expires", "24h", "--out", "v3.json")
	must(t, dir, "keyring", "sign", "v3.json", "new1.key")
	must(t, dir, "keyring", "sign", "v3.json", "new2.key")
	must(t, dir, "keyring", "add-signer", "v1.json", "--name", "ops", "--key", "ops.pub", "--machines", "*", "--out", "other2.json")
	must(t, dir, "keyring", "sign", "other2.json", "root1.key")
	must(t, dir, "keyring", "sign", "other2.json", "root2.key")

	t.Run("refuses a keyring not signed by its own root threshold", func(t *testing.T) {
		must(t, dir, append([]string{"keyring", "init", "--out", "draft.json"}, oldRoots...)...)
		if r := put("draft.json"); r.code != 1 || !strings.Contains(r.stderr, "signed by 0 of its own 3 root key(s), 2 needed") {
			t.Fatalf("put of a draft: %+v", r)
		}
	})
	t.Run("publishes version 1 at KEY.keyring.1, and says when it is already published", func(t *testing.T) {
		r := put("v1.json")
		if r.code != 0 || !strings.Contains(r.stdout, "Published MACHINES/machines.keyring.1 revision 1: keyring version 1, 1 signer(s)") {
			t.Fatalf("put v1: %+v", r)
		}
		want, _ := os.ReadFile(filepath.Join(dir, "v1.json"))
		if got := stored(t, "machines.keyring.1"); !bytes.Equal(got, bytes.TrimSpace(want)) {
			t.Fatalf("stored %s, want %s", got, want)
		}
		if r := put("v1.json"); r.code != 0 || !strings.Contains(r.stdout, "already published at MACHINES/machines.keyring.1") {
			t.Fatalf("put v1 again: %+v", r)
		}
	})
	t.Run("refuses a rotation only the new roots signed, against the version published", func(t *testing.T) {
		if r := put("only-new.json"); r.code != 1 || !strings.Contains(r.stderr, "nodes holding the published version 1 would refuse it") || !strings.Contains(r.stderr, "signed by 0 of version 1's 3 root key(s)") {
			t.Fatalf("put only-new: %+v", r)
		}
	})
	t.Run("refuses a gap: version 3 before version 2", func(t *testing.T) {
		if r := put("v3.json"); r.code != 1 || !strings.Contains(r.stderr, "version 2 is not published at MACHINES/machines.keyring.2") {
			t.Fatalf("put v3: %+v", r)
		}
	})
	t.Run("publishes a rotation the old and the new roots signed, then the next", func(t *testing.T) {
		if r := put("v2.json"); r.code != 0 || !strings.Contains(r.stdout, "Published MACHINES/machines.keyring.2") {
			t.Fatalf("put v2: %+v", r)
		}
		if r := put("v3.json"); r.code != 0 || !strings.Contains(r.stdout, "Published MACHINES/machines.keyring.3") {
			t.Fatalf("put v3: %+v", r)
		}
	})
	t.Run("never replaces a published version", func(t *testing.T) {
		if r := put("other2.json"); r.code != 1 || !strings.Contains(r.stderr, "version 2 is already published at MACHINES/machines.keyring.2 (revision 2) as another keyring") {
			t.Fatalf("put another version 2: %+v", r)
		}
		if r := put("only-new.json"); r.code != 1 || !strings.Contains(r.stderr, "as the same payload with other signatures (4 there, 2 here)") {
			t.Fatalf("put version 2 with other signatures: %+v", r)
		}
		want, _ := os.ReadFile(filepath.Join(dir, "v2.json"))
		if got := stored(t, "machines.keyring.2"); !bytes.Equal(got, bytes.TrimSpace(want)) {
			t.Fatal("version 2 was replaced")
		}
	})
	t.Run("publishes beside another key, and a keyring nodes cannot walk to from nothing is refused", func(t *testing.T) {
		if r := put("v1.json", "--key", "web"); r.code != 0 || !strings.Contains(r.stdout, "Published MACHINES/web.keyring.1") {
			t.Fatalf("put --key web: %+v", r)
		}
		if r := put("v2.json", "--bucket", "OTHER"); r.code != 1 || !strings.Contains(r.stderr, "version 1 is not published at OTHER/machines.keyring.1") {
			t.Fatalf("put v2 to an empty bucket: %+v", r)
		}
	})
}

// mustPub parses a hex public key.
func mustPub(t *testing.T, h string) ed25519.PublicKey {
	t.Helper()
	pub, err := spec.ParsePublicKey(h)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestOneRootCannotChangeAKeyring: through the CLI, a 2-of-3 keyring's next version signed by
// one root (even one that lowers the threshold to 1) is refused by verify, as nodes refuse it,
// and by put, which never publishes it.
func TestOneRootCannotChangeAKeyring(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "root3", "web", "evil")
	signedKeyring(t, dir, "v1.json")
	must(t, dir, "keyring", "put", "v1.json", "--server", url)
	must(t, dir, "keyring", "add-signer", "v1.json", "--name", "evil", "--key", "evil.pub", "--machines", "*", "--out", "v2.json")
	must(t, dir, "keyring", "set-roots", "v2.json", "--root", "root1.pub", "--root", "root2.pub", "--root", "root3.pub", "--threshold", "1")
	must(t, dir, "keyring", "sign", "v2.json", "root3.key")
	mmsRefused(t, dir, 1, []string{"signed by 1 of version 1's 3 root key(s), 2 needed"}, append([]string{"keyring", "verify", "v1.json", "v2.json"}, oldRoots...)...)
	mmsRefused(t, dir, 1, []string{"nodes holding the published version 1 would refuse it", "signed by 1 of version 1's 3 root key(s), 2 needed"}, "keyring", "put", "v2.json", "--server", url)
}
