package spec

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func TestKeys(t *testing.T) {
	pub, priv := newKey(t)
	t.Run("parses go-choria's key forms", func(t *testing.T) {
		p, err := ParsePublicKey(" " + hex.EncodeToString(pub) + "\n")
		if err != nil || !p.Equal(pub) {
			t.Fatalf("public: %v", err)
		}
		k, err := ParsePrivateKey(hex.EncodeToString(priv))
		if err != nil || !k.Equal(priv) {
			t.Fatalf("private: %v", err)
		}
	})
	t.Run("says which length was wrong", func(t *testing.T) {
		_, err := ParsePublicKey("abcd")
		if !errors.Is(err, errs.ErrInvalidKey) || !strings.Contains(err.Error(), "must be 64 hex characters, got 4") {
			t.Fatalf("got %v", err)
		}
		_, err = ParsePrivateKey(hex.EncodeToString(pub))
		if !errors.Is(err, errs.ErrInvalidKey) || !strings.Contains(err.Error(), "must be 128 hex characters, got 64") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses non-hex keys", func(t *testing.T) {
		if _, err := ParsePublicKey(strings.Repeat("z", 64)); !errors.Is(err, errs.ErrInvalidKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses a private key whose halves disagree", func(t *testing.T) {
		other, _ := newKey(t)
		bad := append(append([]byte{}, priv[:32]...), other...)
		if _, err := ParsePrivateKey(hex.EncodeToString(bad)); !errors.Is(err, errs.ErrInvalidKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("names the bad key among several", func(t *testing.T) {
		_, err := ParsePublicKeys([]string{hex.EncodeToString(pub), "00"})
		if err == nil || !strings.Contains(err.Error(), "public key 2") {
			t.Fatalf("got %v", err)
		}
	})
}

func signedEnvelope(t testing.TB, payload []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	env, err := EncodeEnvelope(payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestOpenSignatures(t *testing.T) {
	pub, priv := newKey(t)
	oldPub, oldPriv := newKey(t)
	_, strangerPriv := newKey(t)
	payload := mustJSON(t, []any{goodEntry("web")})

	t.Run("accepts a spec signed by any trusted key (rotation)", func(t *testing.T) {
		trust := Trust{Keys: []ed25519.PublicKey{pub, oldPub}}
		for i, k := range []ed25519.PrivateKey{priv, oldPriv} {
			s, err := Open(signedEnvelope(t, payload, k), trust)
			if err != nil || s.SignedBy != i || !s.Signed() {
				t.Fatalf("key %d: %+v %v", i, s, err)
			}
		}
	})
	t.Run("refuses a spec signed by another key", func(t *testing.T) {
		_, err := Open(signedEnvelope(t, payload, strangerPriv), Trust{Keys: []ed25519.PublicKey{pub, oldPub}})
		if !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "signature does not verify with any of 2 trusted keys") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses an unsigned spec when a key is configured", func(t *testing.T) {
		_, err := Open(signedEnvelope(t, payload, nil), Trust{Keys: []ed25519.PublicKey{pub}})
		if !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "not signed") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses a payload changed after signing", func(t *testing.T) {
		env := signedEnvelope(t, payload, priv)
		var raw map[string]string
		_ = json.Unmarshal(env, &raw)
		raw["machines"] = base64.StdEncoding.EncodeToString(mustJSON(t, []any{goodEntry("evil")}))
		_, err := Open(mustJSON(t, raw), Trust{Keys: []ed25519.PublicKey{pub}})
		if !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a signature of the wrong length is an error, never a panic", func(t *testing.T) {
		for _, sig := range []string{"00", strings.Repeat("ab", 63), strings.Repeat("ab", 65), strings.Repeat("zz", 64)} {
			env := mustJSON(t, map[string]string{"machines": base64.StdEncoding.EncodeToString(payload), "signature": sig})
			if _, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}}); !errors.Is(err, errs.ErrSignature) {
				t.Errorf("signature %q: got %v", sig, err)
			}
		}
	})
	t.Run("a trusted key of the wrong length is an error, never a panic", func(t *testing.T) {
		_, err := Open(signedEnvelope(t, payload, priv), Trust{Keys: []ed25519.PublicKey{pub[:31]}})
		if !errors.Is(err, errs.ErrInvalidKey) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses to act without a key unless told to allow unsigned specs", func(t *testing.T) {
		_, err := Open(signedEnvelope(t, payload, nil), Trust{})
		if !errors.Is(err, errs.ErrInsecure) {
			t.Fatalf("got %v", err)
		}
		s, err := Open(signedEnvelope(t, payload, nil), Trust{InsecureAllowUnsigned: true})
		if err != nil || s.Signed() {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	t.Run("a signed but invalid spec is still refused", func(t *testing.T) {
		bad := goodEntry("web")
		bad["checksum"] = "x"
		_, err := Open(signedEnvelope(t, mustJSON(t, []any{bad}), priv), Trust{Keys: []ed25519.PublicKey{pub}})
		if !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestEnvelopes(t *testing.T) {
	pub, priv := newKey(t)
	payload := mustJSON(t, []any{goodEntry("web")})
	encoded := base64.StdEncoding.EncodeToString(payload)

	t.Run("accepts the plugins manager's envelope, signed over the base64 text", func(t *testing.T) {
		sig := hex.EncodeToString(ed25519.Sign(priv, []byte(encoded)))
		s, err := Open(mustJSON(t, map[string]string{"plugins": encoded, "signature": sig}), Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil || s.Kind != KindPlugins || s.Entries[0].Name != "web" {
			t.Fatalf("got %+v %v", s, err)
		}
	})
	t.Run("refuses a plugins envelope signed over the decoded bytes", func(t *testing.T) {
		sig := hex.EncodeToString(ed25519.Sign(priv, payload))
		_, err := Open(mustJSON(t, map[string]string{"plugins": encoded, "signature": sig}), Trust{Keys: []ed25519.PublicKey{pub}})
		if !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	for _, tc := range []struct{ name, env, want string }{
		{"refuses an envelope that is not JSON", `nope`, "not a JSON object"},
		{"refuses an envelope with neither payload", `{"signature":"00"}`, `neither "machines" nor "plugins"`},
		{"refuses an envelope with both payloads", `{"machines":"","plugins":""}`, "both"},
		{"refuses bad base64", `{"machines":"%%%"}`, "not standard base64"},
		{"refuses an empty payload", `{"machines":""}`, "is empty"},
		{"refuses a payload given twice", `{"machines":"W10=","machines":"W10="}`, `gives "machines" twice`},
		{"refuses a signature given twice", `{"machines":"W10=","signature":"","signature":"ab"}`, `gives "signature" twice`},
		{"refuses a payload that is not a string", `{"machines":42}`, "must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEnvelope([]byte(tc.env))
			if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("refuses an oversized envelope naming the limit", func(t *testing.T) {
		_, err := DecodeEnvelope(make([]byte, MaxEnvelopeBytes+1))
		if !errors.Is(err, errs.ErrLimit) || !strings.Contains(err.Error(), "max_spec_bytes") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestAdmit(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v2 := func(version int64, expires time.Time, name string) *Spec {
		env, s, err := Pack(mustJSON(t, []any{goodEntry(name)}), PackOptions{Format: 2, Version: version, Issued: now.Add(-time.Hour), Expires: expires})
		if err != nil || env == nil {
			t.Fatal(err)
		}
		return s
	}
	v1, err := ParsePayload(mustJSON(t, []any{goodEntry("web")}))
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(s *Spec) *Accepted { a := NewAccepted(s, now); return &a }

	t.Run("accepts anything valid on a fresh directory", func(t *testing.T) {
		for _, s := range []*Spec{v1, v2(1, time.Time{}, "web")} {
			if err := Admit(s, nil, Trust{}, now); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("accepts a higher version and the same spec again", func(t *testing.T) {
		s9 := v2(9, time.Time{}, "web")
		if err := Admit(v2(10, time.Time{}, "web"), accepted(s9), Trust{}, now); err != nil {
			t.Fatal(err)
		}
		if err := Admit(s9, accepted(s9), Trust{}, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses an older version", func(t *testing.T) {
		err := Admit(v2(7, time.Time{}, "web"), accepted(v2(9, time.Time{}, "web")), Trust{}, now)
		if !errors.Is(err, errs.ErrRollback) || !strings.Contains(err.Error(), "spec version 7 is older than version 9 already applied") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses an equal version with different content", func(t *testing.T) {
		err := Admit(v2(9, time.Time{}, "db"), accepted(v2(9, time.Time{}, "web")), Trust{}, now)
		if !errors.Is(err, errs.ErrRollback) || !strings.Contains(err.Error(), "needs a higher version") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses v1 once v2 was accepted", func(t *testing.T) {
		if err := Admit(v1, accepted(v2(3, time.Time{}, "web")), Trust{}, now); !errors.Is(err, errs.ErrRollback) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("accepts v2 after v1, and v1 after v1", func(t *testing.T) {
		if err := Admit(v2(1, time.Time{}, "web"), accepted(v1), Trust{}, now); err != nil {
			t.Fatal(err)
		}
		if err := Admit(v1, accepted(v1), Trust{}, now); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses an expired spec, even one already applied", func(t *testing.T) {
		s := v2(4, now.Add(-time.Second), "web")
		for _, last := range []*Accepted{nil, accepted(s)} {
			err := Admit(s, last, Trust{}, now)
			if !errors.Is(err, errs.ErrExpired) || !strings.Contains(err.Error(), "spec expired at 2026-11-23T11:59:59Z") {
				t.Fatalf("got %v", err)
			}
		}
		if err := Admit(v2(4, now.Add(time.Minute), "web"), nil, Trust{}, now); err != nil {
			t.Fatalf("unexpired: %v", err)
		}
	})
}

func TestDeeplyNested(t *testing.T) {
	deep := strings.Repeat("[", 12<<20)
	t.Run("refuses an envelope of 12 MB of nested arrays without overflowing the stack", func(t *testing.T) {
		_, err := Open([]byte(`{"machines":`+deep+`}`), Trust{InsecureAllowUnsigned: true})
		if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "deeper than") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses a payload that nests too deep", func(t *testing.T) {
		if _, err := ParsePayload([]byte(deep)); err == nil || !strings.Contains(err.Error(), "deeper than") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRollbackFreezes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	pubA, privA, _ := ed25519.GenerateKey(rand.Reader)
	pubB, privB, _ := ed25519.GenerateKey(rand.Reader)
	signed := func(priv ed25519.PrivateKey, trust []ed25519.PublicKey, version int64) *Spec {
		env, _, err := Pack(mustJSON(t, []any{goodEntry("web")}), PackOptions{Format: 2, Version: version, Issued: now.Add(-time.Hour), Key: priv})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(env, Trust{Keys: trust, InsecureAllowUnsigned: len(trust) == 0})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	accepted := func(s *Spec) *Accepted { a := NewAccepted(s, now); return &a }

	t.Run("a version accepted with no key does not bind specifications signed by a key configured later", func(t *testing.T) {
		insecure := accepted(signed(nil, nil, 9_000))
		if !insecure.Unsigned {
			t.Fatal("not recorded as unsigned")
		}
		if err := Admit(signed(privA, []ed25519.PublicKey{pubA}, 5), insecure, Trust{Keys: []ed25519.PublicKey{pubA}}, now); err != nil {
			t.Fatalf("refused: %v", err)
		}
	})
	t.Run("a version signed by a key no longer trusted does not bind the keys trusted now", func(t *testing.T) {
		// During a rotation the old key A (now stolen) published a huge version.
		frozen := accepted(signed(privA, []ed25519.PublicKey{pubA, pubB}, 9_000))
		if frozen.Key != hex.EncodeToString(pubA) {
			t.Fatalf("key recorded %q", frozen.Key)
		}
		next := signed(privB, []ed25519.PublicKey{pubB}, 5)
		if err := Admit(next, frozen, Trust{Keys: []ed25519.PublicKey{pubA, pubB}}, now); !errors.Is(err, errs.ErrRollback) {
			t.Fatalf("while A is trusted its version binds: %v", err)
		}
		if err := Admit(next, frozen, Trust{Keys: []ed25519.PublicKey{pubB}}, now); err != nil {
			t.Fatalf("once A is removed its version still binds: %v", err)
		}
	})
	t.Run("a version from a record written before the key was kept binds, as it always did", func(t *testing.T) {
		old := &Accepted{Format: 2, Version: 9_000, Digest: "x", At: now}
		if err := Admit(signed(privB, []ed25519.PublicKey{pubB}, 5), old, Trust{Keys: []ed25519.PublicKey{pubB}}, now); !errors.Is(err, errs.ErrRollback) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a specification issued more than a day ahead of the node's clock is refused", func(t *testing.T) {
		env, _, err := Pack(mustJSON(t, []any{goodEntry("web")}), PackOptions{Format: 2, Version: 5, Issued: now.Add(48 * time.Hour), Key: privA})
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(env, Trust{Keys: []ed25519.PublicKey{pubA}})
		if err != nil {
			t.Fatal(err)
		}
		if err := Admit(s, nil, Trust{Keys: []ed25519.PublicKey{pubA}}, now); !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "after this node's clock") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestImplausibleTimesAndVersions(t *testing.T) {
	entries := []any{goodEntry("web")}
	for _, tc := range []struct {
		name    string
		payload map[string]any
		want    string
	}{
		{"refuses a zero expires, which would read as never", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "expires": "0001-01-01T00:00:00Z", "machines": entries}, "expires is the zero time"},
		{"refuses a zero issue time", map[string]any{"version": 5, "issued": "0001-01-01T00:00:00Z", "machines": entries}, "issued is the zero time"},
		{"refuses a version implausibly far ahead of its issue time", map[string]any{"version": int64(1) << 62, "issued": "2026-01-02T03:04:05Z", "machines": entries}, "implausibly far ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePayload(mustJSON(t, tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("accepts the version mms pack makes, and small ones", func(t *testing.T) {
		issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for _, v := range []int64{1, 42, VersionAt(issued)} {
			p := map[string]any{"version": v, "issued": issued.Format(time.RFC3339), "machines": entries}
			if _, err := ParsePayload(mustJSON(t, p)); err != nil {
				t.Fatalf("version %d: %v", v, err)
			}
		}
	})
}
