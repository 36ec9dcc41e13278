package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/rollout"
)

// FuzzOpen feeds arbitrary envelopes to the node's decoder: it must never panic, and whatever
// it accepts must be valid and, with a key configured, signed by it.
func FuzzOpen(f *testing.F) {
	pub, priv := newKey(f)
	f.Add(readTestdata(f, "reference-spec.json"))
	f.Add(readTestdata(f, "multi-spec.json"))
	f.Add(readTestdata(f, "multi-unsigned.json"))
	f.Add(signedEnvelope(f, []byte(`{"version":1,"issued":"2026-01-01T00:00:00Z","machines":[]}`), priv))
	f.Add([]byte(`{"plugins":"W10=","signature":""}`))
	f.Add([]byte(`{"machines":"e30="}`))
	f.Add(signedEnvelope(f, []byte(`{"version":1,"issued":"2026-01-01T00:00:00Z","requires":["rollout"],"machines":[]}`), priv))
	f.Add(signedEnvelope(f, []byte(`{"version":1,"issued":"2026-01-01T00:00:00Z","requires":["fuzz-known"],"machines":[]}`), priv))
	knowFeatures(f, "fuzz-known")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(data, Trust{InsecureAllowUnsigned: true})
		if err == nil {
			for _, e := range s.Entries {
				if msg := nameProblem(e.Name); msg != "" {
					t.Fatalf("accepted a bad name %q: %s", e.Name, msg)
				}
			}
			checkRequires(t, s)
		} else {
			checkUnsupported(t, err)
		}
		if s, err := Open(data, Trust{Keys: []ed25519.PublicKey{pub}}); err == nil && !s.Signed() {
			t.Fatalf("accepted an unsigned spec with a key configured")
		}
	})
}

// hexOracle is the rule isSHA256Hex implements, written the slow, obvious way.
var hexOracle = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// FuzzParsePayload feeds arbitrary payloads to the validator.
func FuzzParsePayload(f *testing.F) {
	f.Add(readTestdata(f, "multi-machines.json"))
	f.Add([]byte(`{"version":3,"issued":"2026-01-01T00:00:00Z","expires":"2027-01-01T00:00:00Z","machines":[{"name":"x"}]}`))
	f.Add([]byte(`[{"name":"../x","NAME":"y"}]`))
	f.Add([]byte(`{"version":3,"issued":"2026-01-01T00:00:00Z","requires":["fuzz-known"],"machines":[]}`))
	f.Add([]byte(`{"version":3,"issued":"2026-01-01T00:00:00Z","requires":["rollout","a-b_c","fuzz-known"],"machines":[]}`))
	f.Add([]byte(`{"version":3,"issued":"2026-01-01T00:00:00Z","requires":["fuzz-known","fuzz-known",7,"Bad"],"Requires":[],"machines":[]}`))
	f.Add([]byte(`{"version":3,"issued":"2026-01-01T00:00:00Z","requires":[],"machines":[]}`))
	f.Add(v2Rollout(`"requires":["rollout"],"rollout":`+canary, rawEntry(f, "web", ""), rawEntry(f, "db", `"rollout":`+allAtOnce), rawEntry(f, "x", `"rollout":null`)))
	f.Add(v2Rollout(`"rollout":`+canary, rawEntry(f, "web", `"Rollout":{}`)))
	f.Add([]byte(`[` + rawEntry(f, "web", `"rollout":`+canary) + `]`))
	knowFeatures(f, "fuzz-known", FeatureRollout)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParsePayload(data)
		if err != nil {
			checkUnsupported(t, err)
			return
		}
		checkRequires(t, s)
		checkRollout(t, s)
		if s.Format == 2 && s.Version <= 0 {
			t.Fatalf("accepted version %d", s.Version)
		}
		seen := map[string]bool{}
		for _, e := range s.Entries {
			if seen[e.Name] {
				t.Fatalf("accepted duplicate %q", e.Name)
			}
			seen[e.Name] = true
			if !hexOracle.MatchString(e.Checksum) || !hexOracle.MatchString(e.VerifyChecksum) {
				t.Fatalf("accepted bad checksums in %+v", e)
			}
		}
	})
}

// checkRequires fails t unless every feature s requires is known, valid and given once, and a
// v1 specification requires none.
func checkRequires(t *testing.T, s *Spec) {
	t.Helper()
	if s.Format == 1 && s.Requires != nil {
		t.Fatalf("a v1 spec requires %q", s.Requires)
	}
	seen := map[string]bool{}
	for _, f := range s.Requires {
		switch {
		case !knownFeatures[f]:
			t.Fatalf("accepted a spec requiring the unknown feature %q", f)
		case !featureOracle.MatchString(f):
			t.Fatalf("accepted the bad feature name %q", f)
		case seen[f]:
			t.Fatalf("accepted the feature %q twice", f)
		}
		seen[f] = true
	}
	if s.Requires != nil && len(s.Requires) == 0 {
		t.Fatalf("an empty requires list is not none")
	}
}

// checkRollout fails t unless a specification with a rollout policy is v2 and requires
// rollout, and every entry's policy is the default or a valid one of its own.
func checkRollout(t *testing.T, s *Spec) {
	t.Helper()
	policies := s.Rollout != nil
	for _, e := range s.Entries {
		if e.Rollout == nil {
			continue
		}
		policies = true
		if e.Rollout != s.Rollout {
			b, err := json.Marshal(e.Rollout)
			if err != nil {
				t.Fatalf("entry %q has a policy that does not write: %v", e.Name, err)
			}
			if again, err := rollout.ParsePolicy(b); err != nil || !reflect.DeepEqual(again, *e.Rollout) {
				t.Fatalf("entry %q: %+v writes %s, reads back %+v, %v", e.Name, *e.Rollout, b, again, err)
			}
		}
	}
	if policies && (s.Format != 2 || !slices.Contains(s.Requires, FeatureRollout)) {
		t.Fatalf("accepted a policy in a v%d spec requiring %q", s.Format, s.Requires)
	}
}

// FuzzPack packs arbitrary machines files: whatever packs opens again to the same entries and
// policies, and requires rollout when it has a policy.
func FuzzPack(f *testing.F) {
	f.Add([]byte(`{"rollout":` + canary + `,"machines":[` + rawEntry(f, "web", "") + `,` + rawEntry(f, "db", `"rollout":`+allAtOnce) + `]}`))
	f.Add([]byte(`[` + rawEntry(f, "web", `"rollout":null`) + `]`))
	f.Add([]byte(`{"machines":[],"extra":1}`))
	f.Add(readTestdata(f, "multi-machines.json"))
	knowFeatures(f, FeatureRollout)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, s, err := Pack(data, PackOptions{Format: 2, Version: 7, Issued: now, AllowUnknown: true})
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Fatalf("a refusal that is not an invalid spec: %v", err)
			}
			return
		}
		checkRollout(t, s)
		o, err := Open(env, Trust{InsecureAllowUnsigned: true})
		if err != nil {
			t.Fatalf("packed a spec that does not open: %v", err)
		}
		if !reflect.DeepEqual(o.Rollout, s.Rollout) || !reflect.DeepEqual(o.Entries, s.Entries) || !reflect.DeepEqual(o.Requires, s.Requires) {
			t.Fatalf("packed %+v, opened %+v", s, o)
		}
		if v1, s1, err := Pack(data, PackOptions{Format: 1, AllowUnknown: true}); err == nil {
			if s.Rollout != nil || s1.Rollout != nil || v1 == nil {
				t.Fatalf("packed a policy as v1: %+v", s1)
			}
			for _, e := range s1.Entries {
				if e.Rollout != nil {
					t.Fatalf("packed a policy as v1: %+v", e)
				}
			}
		}
	})
}

// checkUnsupported fails t when err is an *UnsupportedError that names no feature, a known
// one or a malformed one, or that also matches errs.ErrInvalidSpec.
func checkUnsupported(t *testing.T, err error) {
	t.Helper()
	var u *UnsupportedError
	if !errors.As(err, &u) {
		return
	}
	if len(u.Features) == 0 || errors.Is(err, errs.ErrInvalidSpec) || !errors.Is(err, errs.ErrUnsupported) {
		t.Fatalf("bad refusal %#v: %v", u, err)
	}
	for _, f := range u.Features {
		if knownFeatures[f] || !featureOracle.MatchString(f) {
			t.Fatalf("refused for the feature %q: %v", f, err)
		}
	}
}

// featureOracle is the feature name rule, written out again.
var featureOracle = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// FuzzDecodeSignatures: a signatures list is decoded strictly or refused as an invalid
// specification; a decoded list holds no key twice, each in canonical hex.
func FuzzDecodeSignatures(f *testing.F) {
	pub, priv := newKey(f)
	sig, _ := Sign(priv, []byte("x"))
	k := hex.EncodeToString(pub)
	f.Add([]byte(`[{"key":"` + k + `","signature":"` + sig + `"}]`))
	f.Add([]byte(`[{"key":"` + strings.ToUpper(k) + `","signature":"` + sig + `"},{"key":"` + k + `","signature":"` + sig + `"}]`))
	f.Add([]byte(`[{"key":"` + k + `","signature":"` + sig + `","key":"` + k + `"}]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := DecodeSignatures(data, "fuzz")
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Fatalf("a refusal that is not an invalid spec: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range sigs {
			if seen[s.Key] || strings.ToLower(s.Key) != s.Key || len(s.Key) != 64 || len(s.Signature) != 128 {
				t.Fatalf("decoded %+v from %q", sigs, data)
			}
			seen[s.Key] = true
		}
	})
}

// FuzzOpenSigners: whatever the envelope, a node trusting a keyring accepts it only when the
// keyring's signers signed it (at least Required of them, distinct) and every entry is within
// their scope.
func FuzzOpenSigners(f *testing.F) {
	pubA, privA := newKey(f)
	pubB, privB := newKey(f)
	payload := []byte(`{"version":1,"issued":"2026-01-01T00:00:00Z","machines":[]}`)
	one, _ := EncodeEnvelope(payload, privA)
	two, _ := AddSignature(one, privB)
	f.Add(one)
	f.Add(two)
	f.Add([]byte(`{"machines":"e30=","signatures":[]}`))
	far := time.Now().Add(time.Hour)
	ss := &Signers{Required: 2, List: []Signer{{Name: "a", Key: pubA, Machines: []string{"web-*"}, Expires: far}, {Name: "b", Key: pubB, Machines: []string{"*"}, Expires: far}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(data, Trust{Signers: ss})
		if err != nil {
			return
		}
		if s.Signing == nil || len(s.Signing.Signers) < 2 || s.Format != 2 {
			t.Fatalf("accepted without two signers: %+v", s.Signing)
		}
		for _, e := range s.Entries {
			if !strings.HasPrefix(e.Name, "web-") {
				t.Fatalf("accepted %q, outside a's scope", e.Name)
			}
		}
	})
}
