package keyring

import (
	"errors"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

// FuzzParse: any document either parses into a keyring that keeps every rule (thresholds
// between 1 and the number of keys, no key twice, a signer's key no root's) or is refused as a
// keyring (or a limit); it never panics. A parsed keyring written again parses to the same.
func FuzzParse(f *testing.F) {
	roots := newPairs(f, 3)
	good := seal(f, draft(1, roots, 2, signer("web", newPair(f), "web-*", "api-?")), roots[0], roots[1])
	f.Add(document(f, good))
	f.Add([]byte(`{"keyring":"e30=","signatures":[]}`))
	f.Add([]byte(`{"keyring":"` + "eyJ2ZXJzaW9uIjoxfQ==" + `"}`))
	f.Add(payload(f, good, func(m map[string]any) { m["roots"].(map[string]any)["threshold"] = 0 }))
	f.Fuzz(func(t *testing.T, doc []byte) {
		k, err := Parse(doc)
		if err != nil {
			if !errors.Is(err, errs.ErrKeyring) && !errors.Is(err, errs.ErrLimit) {
				t.Fatalf("a refusal of another family: %v", err)
			}
			return
		}
		if k.RootThreshold < 1 || k.RootThreshold > len(k.Roots) || k.SpecThreshold < 1 || (len(k.Signers) > 0 && k.SpecThreshold > len(k.Signers)) {
			t.Fatalf("thresholds out of range: %+v", k)
		}
		keys := map[string]bool{}
		for _, r := range k.Roots {
			keys[string(r)] = true
		}
		for _, s := range k.Signers {
			if keys[string(s.Key)] {
				t.Fatalf("a key twice: %+v", k)
			}
			keys[string(s.Key)] = true
		}
		again, err := k.Draft().Seal()
		if err != nil {
			t.Fatalf("a parsed keyring does not seal again: %v", err)
		}
		if again.Version != k.Version || len(again.Signers) != len(k.Signers) || again.RootThreshold != k.RootThreshold {
			t.Fatalf("sealed %+v from %+v", again, k)
		}
	})
}
