package machines

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	tk "github.com/mms-io/mms/internal/testkeyring"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

// keyringNode is a node that trusts a keyring whose versions are docs (as mms apply --keyring
// gives them), anchored on roots with threshold k.
type keyringNode struct {
	*fixture
	anchor keyring.Anchor
	docs   map[string][]byte
}

func newKeyringNode(t *testing.T, roots []tk.Pair, k int, docs ...[]byte) *keyringNode {
	t.Helper()
	a, err := keyring.NewAnchor(tk.Pubs(roots...), k)
	if err != nil {
		t.Fatal(err)
	}
	n := &keyringNode{fixture: newFixture(t), anchor: a, docs: map[string][]byte{}}
	n.publish(docs...)
	return n
}

// publish adds keyring versions the node can walk to.
func (n *keyringNode) publish(docs ...[]byte) {
	for _, d := range docs {
		n.docs[string(rune('a'+len(n.docs)))] = d
	}
}

// run reconciles env with a keeper over the published versions, trusting no bare key.
func (n *keyringNode) run(env []byte) *Report {
	n.t.Helper()
	fetch, err := keyring.FromDocuments(n.docs)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := Config{Dir: n.dir, Purge: true, Keyring: &keyring.Keeper{Anchor: n.anchor, Fetch: fetch, Dir: n.dir}}
	return Reconcile(context.Background(), cfg, env)
}

// signed packs entries as version v, signed with p's key in go-choria's single signature.
func (n *keyringNode) signed(p tk.Pair, v int64, entries ...spec.Entry) []byte {
	return testarchive.Envelope(n.t, p.Priv, v, n.issued, entries...)
}

func TestKeyringNode(t *testing.T) {
	roots := []tk.Pair{tk.NewPair(t), tk.NewPair(t), tk.NewPair(t)}
	web, ops := tk.NewPair(t), tk.NewPair(t)
	v1 := tk.Document(t, tk.Draft(1, roots, 2, tk.Signer("web", web, "web-*"), tk.Signer("ops", ops, "*")), roots[0], roots[1])

	t.Run("a stolen team-scoped signer key cannot ship, nor purge, a machine outside its pattern", func(t *testing.T) {
		n := newKeyringNode(t, roots, 2, v1)
		webA, db := n.entry("web-a", "1", nil), n.entry("db-1", "1", nil)
		if rep := n.run(n.signed(ops, 101, webA, db)); rep.Err != nil || rep.Failed() {
			t.Fatalf("ops, who may sign for every machine: %v %+v", rep.Err, rep.Results)
		}
		before := snapshot(t, n.dir)
		evil := n.entry("db-1", "evil", map[string]string{"x": "y"})
		if rep := n.run(n.signed(web, 102, evil, n.entry("api", "1", nil))); !errors.Is(rep.Err, errs.ErrScope) || !strings.Contains(rep.Err.Error(), `entries "db-1", "api"`) {
			t.Fatalf("web shipping db-1 and api: %v", rep.Err)
		}
		rep := n.run(n.signed(web, 102, webA, evil))
		if !errors.Is(rep.Err, errs.ErrScope) || !errors.Is(rep.Err, errs.ErrSignature) || !strings.Contains(rep.Err.Error(), `entry "db-1"`) || !strings.Contains(rep.Err.Error(), "web (web-*)") {
			t.Fatalf("web shipping db-1: %v", rep.Err)
		}
		if !reflect.DeepEqual(before, snapshot(t, n.dir)) {
			t.Fatal("a refused specification changed the directory")
		}
		// Leaving db-1 out is no word on it from a signer who may not sign for it.
		rep = n.run(n.signed(web, 103, webA))
		if rep.Err != nil {
			t.Fatal(rep.Err)
		}
		if r := result(t, rep, "db-1"); r.Action != ActionRefuse || !errors.Is(r.Err, errs.ErrScope) {
			t.Fatalf("db-1: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(n.dir, "db-1", "machine.yaml")); err != nil {
			t.Fatalf("db-1 was purged: %v", err)
		}
		// ops may remove it.
		if rep := n.run(n.signed(ops, 104, webA)); rep.Err != nil || result(t, rep, "db-1").Action != ActionRemove {
			t.Fatalf("ops removing db-1: %v %+v", rep.Err, rep.Results)
		}
	})

	t.Run("a specification needing two signatures is refused with one and accepted with two", func(t *testing.T) {
		d := tk.Draft(1, roots, 2, tk.Signer("web", web, "web-*"), tk.Signer("ops", ops, "*"))
		d.SpecThreshold = 2
		n := newKeyringNode(t, roots, 2, tk.Document(t, d, roots[1], roots[2]))
		env := n.signed(web, 101, n.entry("web-a", "1", nil))
		rep := n.run(env)
		if !errors.Is(rep.Err, errs.ErrSignature) || !strings.Contains(rep.Err.Error(), "needs 2 signature(s)") || !strings.Contains(rep.Err.Error(), "has 1 (web)") {
			t.Fatalf("one signature: %v", rep.Err)
		}
		// The same key again does not make two.
		if _, err := spec.AddSignature(env, web.Priv); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("web signing twice: %v", err)
		}
		if rep := n.run(tk.Cosign(t, env, ops)); rep.Err != nil || result(t, rep, "web-a").Action != ActionInstall {
			t.Fatalf("two signatures: %v %+v", rep.Err, rep.Results)
		}
		// Both must cover each entry: ops alone covers db-1, which needs two.
		db := n.signed(web, 102, n.entry("db-1", "1", nil))
		if rep := n.run(tk.Cosign(t, db, ops)); !errors.Is(rep.Err, errs.ErrScope) || !strings.Contains(rep.Err.Error(), "2 of them must cover it") {
			t.Fatalf("db-1 covered by one of two: %v", rep.Err)
		}
	})

	t.Run("an expired signer does not count, and the refusal names it", func(t *testing.T) {
		old := tk.Signer("web", web, "web-*")
		old.Expires = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		n := newKeyringNode(t, roots, 2, tk.Document(t, tk.Draft(1, roots, 2, old), roots[0], roots[2]))
		if rep := n.run(n.signed(web, 101)); !errors.Is(rep.Err, errs.ErrSignature) || !strings.Contains(rep.Err.Error(), "signer web expired at") {
			t.Fatalf("got %v", rep.Err)
		}
	})

	t.Run("a removed signer's inflated version no longer freezes the node; a version others signed still binds", func(t *testing.T) {
		stolen := tk.NewPair(t)
		d1 := tk.Draft(1, roots, 2, tk.Signer("web", web, "*"), tk.Signer("stolen", stolen, "*"))
		k1 := tk.Document(t, d1, roots[0], roots[1])
		d2 := d1
		d2.Version, d2.Signers = 2, d1.Signers[:1]
		k2 := tk.Document(t, d2, roots[0], roots[1])

		n := newKeyringNode(t, roots, 2, k1)
		inflated := n.issued.Add(300 * 24 * time.Hour).UnixMilli()
		if rep := n.run(n.signed(stolen, inflated)); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		honest := n.issued.UnixMilli() + 1
		if rep := n.run(n.signed(web, honest)); !errors.Is(rep.Err, errs.ErrRollback) {
			t.Fatalf("frozen by the stolen key: %v", rep.Err)
		}
		n.publish(k2)
		if rep := n.run(n.signed(web, honest)); rep.Err != nil {
			t.Fatalf("after the stolen signer's removal: %v", rep.Err)
		}
		if v := n.acceptedVersion(t); v != honest {
			t.Fatalf("accepted version %d", v)
		}

		// The other way round: web set the floor, removing "stolen" does not lift it.
		m := newKeyringNode(t, roots, 2, k1)
		if rep := m.run(m.signed(web, inflated)); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		m.publish(k2)
		if rep := m.run(m.signed(web, honest)); !errors.Is(rep.Err, errs.ErrRollback) {
			t.Fatalf("a floor web set was lifted: %v", rep.Err)
		}
	})

	t.Run("rotation: signed by old and new roots it is taken, by the new roots alone it is not", func(t *testing.T) {
		fresh := []tk.Pair{tk.NewPair(t), tk.NewPair(t)}
		team := tk.NewPair(t)
		rot := tk.Draft(2, fresh, 2, tk.Signer("web", web, "web-*"), tk.Signer("team", team, "*"))
		n := newKeyringNode(t, roots, 2, v1, tk.Document(t, rot, fresh...))
		rep := n.run(n.signed(team, 101))
		if !errors.Is(rep.Err, errs.ErrSignature) || !strings.Contains(rep.Err.Error(), "keyring version 1") {
			t.Fatalf("a signer of a keyring only the new roots signed: %v", rep.Err)
		}
		m := newKeyringNode(t, roots, 2, v1, tk.Document(t, rot, roots[0], roots[2], fresh[0], fresh[1]))
		if rep := m.run(m.signed(team, 101)); rep.Err != nil {
			t.Fatalf("after a rotation by old and new roots: %v", rep.Err)
		}
	})

	t.Run("one root key alone cannot change a 2-of-3 keyring", func(t *testing.T) {
		evil := tk.NewPair(t)
		grab := tk.Draft(2, roots, 2, tk.Signer("web", web, "web-*"), tk.Signer("evil", evil, "*"))
		n := newKeyringNode(t, roots, 2, v1, tk.Document(t, grab, roots[2]))
		if rep := n.run(n.signed(evil, 101)); !errors.Is(rep.Err, errs.ErrSignature) {
			t.Fatalf("a signer one root added: %v", rep.Err)
		}
		grab.RootThreshold = 1 // nor by lowering the threshold in the version it signs
		m := newKeyringNode(t, roots, 2, v1, tk.Document(t, grab, roots[2]))
		if rep := m.run(m.signed(evil, 101)); !errors.Is(rep.Err, errs.ErrSignature) {
			t.Fatalf("a signer one root added with the threshold lowered: %v", rep.Err)
		}
	})

	t.Run("the keyring reached is kept: it never goes back, and a dry run keeps nothing", func(t *testing.T) {
		team := tk.NewPair(t)
		d2 := tk.Draft(2, roots, 2, tk.Signer("web", web, "web-*"), tk.Signer("ops", ops, "*"), tk.Signer("team", team, "*"))
		k2 := tk.Document(t, d2, roots[0], roots[1])
		n := newKeyringNode(t, roots, 2, v1, k2)
		fetch, _ := keyring.FromDocuments(n.docs)
		cfg := Config{Dir: n.dir, Keyring: &keyring.Keeper{Anchor: n.anchor, Fetch: fetch, Dir: n.dir}}
		if _, rep := Preview(cfg, n.signed(team, 101)); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		if _, err := os.Stat(filepath.Join(n.dir, ".mms")); !os.IsNotExist(err) {
			t.Fatalf("a dry run wrote mms's state: %v", err)
		}
		if rep := n.run(n.signed(team, 102)); rep.Err != nil {
			t.Fatal(rep.Err)
		}
		// Only version 1 on offer now (a replayed, older keyring): team, added in 2, still signs.
		n.docs = map[string][]byte{"v1": v1}
		if rep := n.run(n.signed(team, 103)); rep.Err != nil {
			t.Fatalf("went back to keyring version 1: %v", rep.Err)
		}
		// Another anchor starts again from its own roots.
		other := []tk.Pair{tk.NewPair(t)}
		n.anchor, _ = keyring.NewAnchor(tk.Pubs(other...), 1)
		if rep := n.run(n.signed(team, 104)); !errors.Is(rep.Err, errs.ErrSignature) || !strings.Contains(rep.Err.Error(), "no keyring that the configured roots vouch for") {
			t.Fatalf("another anchor: %v", rep.Err)
		}
	})
}
