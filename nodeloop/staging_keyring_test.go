package nodeloop

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/internal/testkeyring"
	"github.com/mms-io/mms/machines/keyring"
)

// heldKeyring is a KeyringHolder holding k.
type heldKeyring struct{ k *keyring.Keyring }

func (h heldKeyring) Current() *keyring.Keyring { return h.k }

// ready fills s's defaults, as Run does.
func ready(s *Staging) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
}

// TestKeyringNodeTakesOnlySignedControls: a node that trusts a keyring and no bare key takes
// a promotion only when a keyring signer whose scope covers the entry signed it; an unsigned
// one, or one signed by a signer for other machines, is refused (before, the gate checked no
// signature for a node with no bare key).
func TestKeyringNodeTakesOnlySignedControls(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := f.rolloutGate()
	roots := []testkeyring.Pair{testkeyring.NewPair(t)}
	web, db := testkeyring.NewPair(t), testkeyring.NewPair(t)
	k, err := keyring.Parse(testkeyring.Document(t, testkeyring.Draft(1, roots, 1,
		testkeyring.Signer("web-team", web, "web"), testkeyring.Signer("db-team", db, "db-*")), roots...))
	if err != nil {
		t.Fatal(err)
	}
	s := &Staging{Identity: "node-1", Keyring: heldKeyring{k}, Logger: slog.New(slog.DiscardHandler)}
	s.SetGate(g, "")
	ready(s)
	p := stagedPolicy(t)
	c := &change{Mark: Mark{Entry: "web", Wave: 1, Waves: 2, Seen: time.Now()}, policy: *p}
	id := gate.ChangeID("web", strings.Repeat("a", 64))

	promote := func(by *testkeyring.Pair) {
		t.Helper()
		ctl := gate.Control{Action: gate.ActionPromote, Change: id, Entry: "web", Wave: 2, By: "operator", At: time.Now().UTC()}
		if by == nil {
			// What anyone who may write the bucket can write, past gate.Store.Put's own check.
			value, err := gate.SignControl(ctl, nil)
			if err != nil {
				t.Fatal(err)
			}
			kv, err := f.js.KeyValue(ctx, gate.DefaultControls)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, id+".promote", value); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := g.Put(ctx, ctl, by.Priv); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		by   *testkeyring.Pair
		open bool
	}{{"unsigned", nil, false}, {"signed by a signer for other machines", &db, false}, {"signed by the entry's signer", &web, true}} {
		t.Run(tc.name, func(t *testing.T) {
			promote(tc.by)
			v, err := s.judge(g, id, c, true)
			if err != nil {
				t.Fatal(err)
			}
			if v.Open != tc.open {
				t.Fatalf("open %v, want %v: %+v", v.Open, tc.open, v)
			}
		})
	}
	t.Run("with no keyring reached, nothing signed is taken", func(t *testing.T) {
		none := &Staging{Identity: "node-2", Keyring: heldKeyring{}, Logger: slog.New(slog.DiscardHandler)}
		none.SetGate(g, "")
		ready(none)
		promote(nil)
		if v, err := none.judge(g, id, &change{Mark: Mark{Entry: "web", Wave: 1, Waves: 2, Seen: time.Now()}, policy: *p}, true); err != nil || v.Open {
			t.Fatalf("an unsigned promotion opened a keyring node's wave: %+v %v", v, err)
		}
	})
}
