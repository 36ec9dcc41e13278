package spec

import (
	"crypto/ed25519"
	"regexp"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Open(data, Trust{InsecureAllowUnsigned: true})
		if err == nil {
			for _, e := range s.Entries {
				if msg := nameProblem(e.Name); msg != "" {
					t.Fatalf("accepted a bad name %q: %s", e.Name, msg)
				}
			}
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
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParsePayload(data)
		if err != nil {
			return
		}
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
