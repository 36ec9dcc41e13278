package keyring

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func TestParseRefuses(t *testing.T) {
	roots := newPairs(t, 3)
	team := newPair(t)
	good := seal(t, draft(1, roots, 2, signer("web", team, "web-*")))
	hexKey := func(p pair) string { return hex.EncodeToString(p.pub) }
	cases := []struct {
		name, want string
		edit       func(m map[string]any)
	}{
		{"a root threshold of 0 (CVE-2026-23992)", "between 1 and", func(m map[string]any) { m["roots"].(map[string]any)["threshold"] = 0 }},
		{"a root threshold above the keys", "between 1 and the 3", func(m map[string]any) { m["roots"].(map[string]any)["threshold"] = 4 }},
		{"a negative root threshold", "between 1 and", func(m map[string]any) { m["roots"].(map[string]any)["threshold"] = -1 }},
		{"a fractional root threshold", "integer", func(m map[string]any) { m["roots"].(map[string]any)["threshold"] = 1.5 }},
		{"a spec threshold of 0", "at least 1", func(m map[string]any) { m["spec_threshold"] = 0 }},
		{"a spec threshold above the signers", "more than its 1 signer", func(m map[string]any) { m["spec_threshold"] = 2 }},
		{"a spec threshold above 1 with no signers", "more than its 0 signer", func(m map[string]any) { delete(m, "signers"); m["spec_threshold"] = 2 }},
		{"a root key twice", "listed twice", func(m map[string]any) {
			m["roots"].(map[string]any)["keys"] = []string{hexKey(roots[0]), hexKey(roots[0])}
		}},
		{"no root keys", "non-empty", func(m map[string]any) { m["roots"].(map[string]any)["keys"] = []string{} }},
		{"a small-order root key", "small order", func(m map[string]any) {
			m["roots"].(map[string]any)["keys"] = []string{"0100000000000000000000000000000000000000000000000000000000000000"}
		}},
		{"an unknown field", "unknown field \"signer\"", func(m map[string]any) { m["signer"] = 1 }},
		{"a field that only folds to a known one", "unknown field \"Roots\"", func(m map[string]any) { m["Roots"] = m["roots"] }},
		{"a signer with a root's key", "has the key of a root key", func(m map[string]any) {
			m["signers"].([]any)[0].(map[string]any)["key"] = hexKey(roots[1])
		}},
		{"two signers with one key", "has the key of signer web", func(m map[string]any) {
			s := m["signers"].([]any)
			other := map[string]any{"name": "ops", "key": hexKey(team), "machines": []string{"*"}, "expires": "2027-01-01T00:00:00Z"}
			m["signers"] = append(s, other)
		}},
		{"two signers with one name", "given twice", func(m map[string]any) {
			s := m["signers"].([]any)
			other := map[string]any{"name": "web", "key": hexKey(newPair(t)), "machines": []string{"*"}, "expires": "2027-01-01T00:00:00Z"}
			m["signers"] = append(s, other)
		}},
		{"a signer without patterns", "non-empty list of machine-name patterns", func(m map[string]any) {
			m["signers"].([]any)[0].(map[string]any)["machines"] = []string{}
		}},
		{"a bad pattern", "syntax error", func(m map[string]any) { m["signers"].([]any)[0].(map[string]any)["machines"] = []string{"web-["} }},
		{"a signer without expiry", "\"expires\" is required", func(m map[string]any) { delete(m["signers"].([]any)[0].(map[string]any), "expires") }},
		{"a zero expiry", "RFC3339", func(m map[string]any) { m["expires"] = "0001-01-01T00:00:00Z" }},
		{"an expiry before the issue", "before it is issued", func(m map[string]any) { m["expires"] = "2026-01-01T00:00:00Z" }},
		{"no version", "\"version\" must be an integer", func(m map[string]any) { delete(m, "version") }},
		{"a signer name with a slash", "needs a \"name\"", func(m map[string]any) { m["signers"].([]any)[0].(map[string]any)["name"] = "web/team" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePayload(payload(t, good, c.edit))
			if !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a keyring refusal saying %q", err, c.want)
			}
		})
	}
	t.Run("the valid one parses back to what was sealed", func(t *testing.T) {
		k, err := Parse(document(t, good))
		if err != nil {
			t.Fatal(err)
		}
		if k.Version != 1 || k.RootThreshold != 2 || len(k.Roots) != 3 || len(k.Signers) != 1 || k.SpecThreshold != 1 || k.Signers[0].Machines[0] != "web-*" {
			t.Fatalf("parsed %+v", k)
		}
	})
	t.Run("a document with a key signing twice", func(t *testing.T) {
		k := seal(t, good.Draft(), roots[0])
		k.Signatures = append(k.Signatures, k.Signatures[0])
		if _, err := Parse(document(t, k)); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "same key") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a document that is not base64", func(t *testing.T) {
		if _, err := Parse([]byte(`{"keyring":"***","signatures":[]}`)); !errors.Is(err, errs.ErrKeyring) {
			t.Fatalf("got %v", err)
		}
		if _, err := Parse([]byte(`{"keyring":"` + base64.StdEncoding.EncodeToString(good.Payload) + `","extra":1}`)); !errors.Is(err, errs.ErrKeyring) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a second signature by the same key is refused when signing", func(t *testing.T) {
		k := seal(t, good.Draft(), roots[0])
		if err := k.Sign(roots[0].priv); !errors.Is(err, errs.ErrKeyring) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRootThresholds(t *testing.T) {
	roots := newPairs(t, 3)
	anchor, err := NewAnchor(pubs(roots...), 2)
	if err != nil {
		t.Fatal(err)
	}
	v1 := seal(t, draft(1, roots, 2), roots[0], roots[1])
	if err := anchor.Vouches(v1); err != nil {
		t.Fatalf("2 of 3 roots signed version 1: %v", err)
	}
	t.Run("one root key alone cannot make or change a 2-of-3 keyring", func(t *testing.T) {
		alone := seal(t, draft(1, roots, 2), roots[2])
		if err := anchor.Vouches(alone); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "signed by 1 of the configured 3") {
			t.Fatalf("got %v", err)
		}
		next := seal(t, v1.Next(t0), roots[0])
		if err := v1.Follows(next); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "1 of version 1's 3 root key(s), 2 needed") {
			t.Fatalf("got %v", err)
		}
		// Nor by lowering the threshold in the version it signs.
		lowered := v1.Next(t0)
		lowered.RootThreshold = 1
		if err := v1.Follows(seal(t, lowered, roots[0])); !errors.Is(err, errs.ErrKeyring) {
			t.Fatalf("a root lowering the threshold alone: %v", err)
		}
	})
	t.Run("a rotation signed by old and new roots is accepted, one signed only by the new roots is refused", func(t *testing.T) {
		fresh := newPairs(t, 2)
		rot := v1.Next(t0)
		rot.Roots, rot.RootThreshold = pubs(fresh...), 2
		onlyNew := seal(t, rot, fresh...)
		if err := v1.Follows(onlyNew); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "signed by 0 of version 1's") {
			t.Fatalf("only new roots: %v", err)
		}
		onlyOld := seal(t, rot, roots[0], roots[1])
		if err := v1.Follows(onlyOld); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "of its own") {
			t.Fatalf("only old roots: %v", err)
		}
		both := seal(t, rot, roots[0], roots[1], fresh[0], fresh[1])
		if err := v1.Follows(both); err != nil {
			t.Fatalf("old and new roots: %v", err)
		}
	})
	t.Run("the next version is valid as long as the one before", func(t *testing.T) {
		later := t0.Add(300 * 24 * time.Hour)
		d := v1.Next(later)
		if !d.Issued.Equal(later) || d.Expires.Sub(d.Issued) != v1.Expires.Sub(v1.Issued) {
			t.Fatalf("issued %v expires %v", d.Issued, d.Expires)
		}
		if _, err := d.Seal(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a keyring follows only the version before it", func(t *testing.T) {
		d := v1.Next(t0)
		d.Version = 3
		if err := v1.Follows(seal(t, d, roots...)); !errors.Is(err, errs.ErrKeyring) || !strings.Contains(err.Error(), "cannot follow") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("anchors refuse thresholds out of range", func(t *testing.T) {
		for _, k := range []int{-1, 4} {
			if _, err := NewAnchor(pubs(roots...), k); !errors.Is(err, errs.ErrKeyring) {
				t.Fatalf("threshold %d: %v", k, err)
			}
		}
		if _, err := NewAnchor(pubs(roots...), 0); err == nil || !strings.Contains(err.Error(), "say how many must sign") {
			t.Fatalf("no threshold with 3 roots: %v", err)
		}
		if a, err := NewAnchor(pubs(roots[0]), 0); err != nil || a.Threshold != 1 {
			t.Fatalf("one root: %+v %v", a, err)
		}
		if _, err := NewAnchor(pubs(roots[0], roots[0]), 1); !errors.Is(err, errs.ErrKeyring) {
			t.Fatalf("a root twice: %v", err)
		}
	})
}

func TestWalk(t *testing.T) {
	roots := newPairs(t, 2)
	anchor, _ := NewAnchor(pubs(roots...), 2)
	v1 := seal(t, draft(1, roots, 2), roots...)
	v2 := seal(t, v1.Next(t0), roots...)
	v3 := seal(t, v2.Next(t0), roots...)
	ctx := context.Background()

	t.Run("from nothing to the newest", func(t *testing.T) {
		k, w := Walk(ctx, anchor, nil, chain{}.add(t, v1, v2, v3).fetch, 0)
		if k == nil || k.Version != 3 || w.Refused != nil || w.From != 0 {
			t.Fatalf("got %v %+v", k, w)
		}
	})
	t.Run("nothing published", func(t *testing.T) {
		if k, w := Walk(ctx, anchor, nil, chain{}.fetch, 0); k != nil || w.Refused != nil {
			t.Fatalf("got %v %+v", k, w)
		}
	})
	t.Run("from the held version, never back", func(t *testing.T) {
		var asked []int64
		c := chain{}.add(t, v1, v2, v3)
		k, _ := Walk(ctx, anchor, v2, func(ctx context.Context, v int64) ([]byte, error) {
			asked = append(asked, v)
			return c.fetch(ctx, v)
		}, 0)
		if k.Version != 3 || len(asked) != 2 || asked[0] != 3 {
			t.Fatalf("got version %d after asking %v", k.Version, asked)
		}
		if k, _ := Walk(ctx, anchor, v3, chain{}.add(t, v1, v2).fetch, 0); k != v3 {
			t.Fatalf("went back to %d", k.Version)
		}
	})
	t.Run("stops at a version that does not follow, keeping the one before", func(t *testing.T) {
		bad := seal(t, v3.Next(t0), roots[0])
		c := chain{}.add(t, v1, v2, v3, bad)
		c[5] = document(t, seal(t, bad.Next(t0), roots...)) // a good version after the bad one is not reached
		k, w := Walk(ctx, anchor, nil, c.fetch, 0)
		if k.Version != 3 || !errors.Is(w.Refused, errs.ErrKeyring) {
			t.Fatalf("got %d, %v", k.Version, w.Refused)
		}
	})
	t.Run("a document stored under another version is refused", func(t *testing.T) {
		c := chain{}.add(t, v1, v2)
		c[3] = document(t, v2)
		if k, w := Walk(ctx, anchor, nil, c.fetch, 0); k.Version != 2 || w.Refused == nil || !strings.Contains(w.Refused.Error(), "stored as version 3 is version 2") {
			t.Fatalf("got %d, %v", k.Version, w.Refused)
		}
	})
	t.Run("a node given newer roots passes over the versions before them", func(t *testing.T) {
		fresh := newPairs(t, 2)
		rot := v3.Next(t0)
		rot.Roots = pubs(fresh...)
		v4 := seal(t, rot, append(roots, fresh...)...)
		newer, _ := NewAnchor(pubs(fresh...), 2)
		k, w := Walk(ctx, newer, nil, chain{}.add(t, v1, v2, v3, v4).fetch, 0)
		if k == nil || k.Version != 4 || len(w.Skipped) != 3 {
			t.Fatalf("got %v, %+v", k, w)
		}
	})
	t.Run("the steps are bounded, and the next walk goes on", func(t *testing.T) {
		c := chain{}.add(t, v1, v2, v3)
		k, w := Walk(ctx, anchor, nil, c.fetch, 2)
		if k.Version != 2 || !w.More {
			t.Fatalf("got %d, %+v", k.Version, w)
		}
		if k, w = Walk(ctx, anchor, k, c.fetch, 2); k.Version != 3 || w.More {
			t.Fatalf("got %d, %+v", k.Version, w)
		}
	})
	t.Run("an expired newest keyring lets no signer count", func(t *testing.T) {
		ss := v3.Trust(v3.Expires)
		if ss.Unusable == "" || !strings.Contains(ss.Unusable, "expired") {
			t.Fatalf("got %+v", ss)
		}
		if ss := v3.Trust(t0); ss.Unusable != "" {
			t.Fatalf("got %+v", ss)
		}
	})
}
