package main

import (
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

// twoMachines has an entry in web-* and one outside it.
const twoMachines = `[
  {"name": "web-front", "source": "https://archives.example.net/web.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `"},
  {"name": "db", "source": "https://archives.example.net/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `"}
]
`

// webMachine has an entry in web-* only.
const webMachine = `[
  {"name": "web-front", "source": "https://archives.example.net/web.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `"}
]
`

// twoRoots are the flags of mms verify for the keyrings of these tests: two roots, both sign.
var twoRoots = []string{"--keyring-root", "root1.pub", "--keyring-root", "root2.pub", "--keyring-threshold", "2"}

func TestSignAndVerifyThroughAKeyring(t *testing.T) {
	dir := t.TempDir()
	keyFiles(t, dir, "root1", "root2", "alice", "bob", "web")
	writeFile(t, dir, "two.json", twoMachines)
	writeFile(t, dir, "web.json", webMachine)
	// ops.json: alice and bob may sign for every machine, and both must.
	must(t, dir, "keyring", "init", "--out", "ops.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
	must(t, dir, "keyring", "add-signer", "ops.json", "--name", "alice", "--key", "alice.pub", "--machines", "*")
	must(t, dir, "keyring", "add-signer", "ops.json", "--name", "bob", "--key", "bob.pub", "--machines", "*")
	must(t, dir, "keyring", "set", "ops.json", "--spec-threshold", "2")
	must(t, dir, "keyring", "sign", "ops.json", "root1.key")
	must(t, dir, "keyring", "sign", "ops.json", "root2.key")
	// team.json: web-team may sign for web-* alone.
	must(t, dir, "keyring", "init", "--out", "team.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
	must(t, dir, "keyring", "add-signer", "team.json", "--name", "web-team", "--key", "web.pub", "--machines", "web-*")
	must(t, dir, "keyring", "sign", "team.json", "root1.key")
	must(t, dir, "keyring", "sign", "team.json", "root2.key")
	verify := func(file, keyringFile string, extra ...string) []string {
		return append(append([]string{"verify", file, "--keyring", keyringFile}, twoRoots...), extra...)
	}

	t.Run("a spec threshold of 2 refuses one signature and takes two, signed on two machines", func(t *testing.T) {
		writeFile(t, dir, "unsigned.json", must(t, dir, "pack", "--force", "two.json").stdout)
		r := must(t, dir, "sign", "unsigned.json", "alice.key", "--out", "alice.json")
		if !strings.Contains(r.stdout, "Wrote alice.json, signed with key "+pubHex(t, dir, "alice")+": the specification carries 1 signature(s)") {
			t.Errorf("sign --out says:\n%s", r.stdout)
		}
		mmsRefused(t, dir, 1, []string{"keyring version 1 needs 2 signature(s) of its signers, this specification has 1 (alice)"}, verify("alice.json", "ops.json")...)
		// Bob signs the file alice sent, printing the envelope.
		r = must(t, dir, "sign", "alice.json", "bob.key")
		if !strings.HasPrefix(r.stdout, `{"machines":"`) || !strings.Contains(r.stderr, "carries 2 signature(s)") {
			t.Fatalf("sign to stdout: %+v", r)
		}
		writeFile(t, dir, "both.json", r.stdout)
		r = must(t, dir, verify("both.json", "ops.json")...)
		for _, want := range []string{"Signature: verified by keyring signers alice, bob (2 needed)", "Keyring: version 1 (trusted from the roots given), spec threshold 2", "scope: within the scope of alice, bob"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("verify lacks %q:\n%s", want, r.stdout)
			}
		}
		var doc specDoc
		decodeStrict(t, must(t, dir, verify("both.json", "ops.json", "--json")...).stdout, &doc)
		if doc.Schema != "mms.verify.v1" || !doc.Signed || doc.Signer != "" || doc.KeysGiven != 0 || doc.Keyring == nil || doc.Keyring.Version != 1 || doc.Keyring.SpecThreshold != 2 ||
			doc.Keyring.Anchor != "roots given" || len(doc.Keyring.Signers) != 2 || doc.Keyring.Signers[0].Name != "alice" || doc.Keyring.Signers[1].Key != pubHex(t, dir, "bob") ||
			len(doc.Entries) != 2 || doc.Entries[1].InScope == nil || !*doc.Entries[1].InScope || len(doc.Entries[1].CoveredBy) != 2 || !doc.Admissible {
			t.Fatalf("verify --json: %+v", doc)
		}
	})
	t.Run("refuses a key that has signed already, a v1 specification and an unsigned key argument", func(t *testing.T) {
		mmsRefused(t, dir, 1, []string{"key " + pubHex(t, dir, "alice") + " has already signed this specification"}, "sign", "both.json", "alice.key")
		writeFile(t, dir, "v1.json", must(t, dir, "pack", "--format", "v1", "two.json", "alice.key").stdout)
		mmsRefused(t, dir, 1, []string{"a v1 specification takes only its one signature"}, "sign", "v1.json", "bob.key")
		mmsRefused(t, dir, 2, []string{"give the signer's private key"}, "sign", "both.json")
		// mms pack's own signature counts as the signer's: signing again with that key is refused.
		writeFile(t, dir, "packed.json", must(t, dir, "pack", "two.json", "alice.key").stdout)
		mmsRefused(t, dir, 1, []string{"has already signed"}, "sign", "packed.json", "alice.key")
		writeFile(t, dir, "packed-both.json", must(t, dir, "sign", "packed.json", "bob.key").stdout)
		must(t, dir, verify("packed-both.json", "ops.json")...)
	})
	t.Run("a team signer's specification with an entry outside its patterns is refused, naming the entry", func(t *testing.T) {
		writeFile(t, dir, "team-two.json", must(t, dir, "pack", "two.json", "web.key").stdout)
		mmsRefused(t, dir, 1, []string{`outside the signers' scope: entry "db": signed by web-team (web-*)`}, verify("team-two.json", "team.json")...)
		writeFile(t, dir, "team-web.json", must(t, dir, "pack", "web.json", "web.key").stdout)
		r := must(t, dir, verify("team-web.json", "team.json")...)
		if !strings.Contains(r.stdout, "verified by keyring signers web-team (1 needed)") || !strings.Contains(r.stdout, "scope: within the scope of web-team") {
			t.Errorf("verify says:\n%s", r.stdout)
		}
		// The team key given as a bare key may sign any machine: bare keys behave as before.
		r = must(t, dir, append(verify("team-two.json", "team.json"), "web.pub")...)
		if !strings.Contains(r.stdout, "Signature: verified by key "+pubHex(t, dir, "web")+" (1 of 1)") || strings.Contains(r.stdout, "scope:") {
			t.Errorf("verify with the bare key says:\n%s", r.stdout)
		}
	})
	t.Run("an expired signer does not count, and the refusal names it", func(t *testing.T) {
		// A keyring whose signer alice expired an hour ago (mms keyring add-signer only adds
		// signers that expire in the future).
		now := time.Now().UTC().Truncate(time.Second)
		k, err := keyring.Draft{Version: 1, Issued: now.Add(-2 * time.Hour), Expires: now.Add(24 * time.Hour),
			Roots: []ed25519.PublicKey{mustPub(t, pubHex(t, dir, "root1")), mustPub(t, pubHex(t, dir, "root2"))}, RootThreshold: 2, SpecThreshold: 1,
			Signers: []spec.Signer{{Name: "alice", Key: mustPub(t, pubHex(t, dir, "alice")), Machines: []string{"*"}, Expires: now.Add(-time.Hour)}}}.Seal()
		if err != nil {
			t.Fatal(err)
		}
		for _, root := range []string{"root1", "root2"} {
			priv, err := spec.LoadPrivateKey(filepath.Join(dir, root+".key"))
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Sign(priv); err != nil {
				t.Fatal(err)
			}
		}
		doc, err := k.Document()
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "expired.json", string(doc))
		r := must(t, dir, "keyring", "verify", "expired.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
		if !strings.Contains(r.stdout, "alice "+pubHex(t, dir, "alice")+" (*) EXPIRED") {
			t.Errorf("keyring verify says:\n%s", r.stdout)
		}
		mmsRefused(t, dir, 1, []string{"this specification has none; signer alice expired at " + now.Add(-time.Hour).Format(time.RFC3339)}, verify("alice.json", "expired.json")...)
	})
	t.Run("an expired keyring lets no signer count", func(t *testing.T) {
		must(t, dir, "keyring", "init", "--out", "short.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2", "--expires", "1s")
		must(t, dir, "keyring", "add-signer", "short.json", "--name", "alice", "--key", "alice.pub", "--machines", "*")
		must(t, dir, "keyring", "sign", "short.json", "root1.key")
		must(t, dir, "keyring", "sign", "short.json", "root2.key")
		time.Sleep(time.Until(readKeyringFile(t, dir, "short.json").Expires) + 10*time.Millisecond)
		mmsRefused(t, dir, 1, []string{"keyring version 1 expired at"}, "keyring", "verify", "short.json", "--root", "root1.pub", "--root", "root2.pub", "--threshold", "2")
		mmsRefused(t, dir, 1, []string{"no keyring signer counts: keyring version 1 expired at"}, verify("alice.json", "short.json")...)
	})
	t.Run("without --keyring-root the lowest version's own roots are trusted, loudly; a keyring flag without --keyring is a usage error", func(t *testing.T) {
		r := must(t, dir, "verify", "both.json", "--keyring", "ops.json")
		if !strings.Contains(r.stderr, "warning: no --keyring-root given: trusting the 2 root(s) that keyring version 1 (ops.json) names itself") || !strings.Contains(r.stdout, "trusted from the own roots") {
			t.Errorf("verify without --keyring-root: %+v", r)
		}
		mmsRefused(t, dir, 1, []string{"signed by 0 of the configured 1 root key(s), 1 needed"}, "verify", "both.json", "--keyring", "ops.json", "--keyring-root", "alice.pub")
		mmsRefused(t, dir, 2, []string{"--keyring-root and --keyring-threshold need --keyring"}, "verify", "both.json", "--keyring-root", "root1.pub")
		mmsRefused(t, dir, 2, []string{"give at least one public key"}, "verify", "both.json")
	})
}
