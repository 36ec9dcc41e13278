package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// v2Payload0 is a v2 payload with no entries.
var v2Payload0 = []byte(`{"version":5,"issued":"2026-01-01T00:00:00Z","machines":[]}`)

// multiEnvelope is the envelope of payload with single as go-choria's signature (nil: none) and
// named signatures by keys.
func multiEnvelope(t testing.TB, payload []byte, single ed25519.PrivateKey, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	env, err := EncodeEnvelope(payload, single)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if env, err = AddSignature(env, k); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func TestNamedSignatures(t *testing.T) {
	pubA, privA := newKey(t)
	pubB, privB := newKey(t)
	signers := func(required int) *Signers {
		far := time.Now().Add(time.Hour)
		return &Signers{Keyring: 3, Required: required, List: []Signer{
			{Name: "a", Key: pubA, Machines: []string{"*"}, Expires: far}, {Name: "b", Key: pubB, Machines: []string{"*"}, Expires: far}}}
	}

	t.Run("an envelope without named signatures is byte for byte go-choria's", func(t *testing.T) {
		env, err := EncodeEnvelope(v2Payload0, privA)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(env, []byte("signatures")) {
			t.Fatalf("got %s", env)
		}
	})
	t.Run("two signers on two machines: each adds a signature, and both count", func(t *testing.T) {
		env := multiEnvelope(t, v2Payload0, nil, privA, privB)
		s, err := Open(env, Trust{Signers: signers(2)})
		if err != nil {
			t.Fatal(err)
		}
		if !s.Signed() || s.Signing == nil || strings.Join(s.Signing.Names(), ",") != "a,b" || s.Signer != "" {
			t.Fatalf("signing %+v", s.Signing)
		}
	})
	t.Run("the single signature counts for its signer, once", func(t *testing.T) {
		env := multiEnvelope(t, v2Payload0, privA)
		if _, err := AddSignature(env, privA); !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "already signed") {
			t.Fatalf("signing again with the single signature's key: %v", err)
		}
		if _, err := Open(env, Trust{Signers: signers(2)}); !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "has 1 (a)") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("the same key listed twice is refused, not counted twice", func(t *testing.T) {
		sig, _ := Sign(privA, v2Payload0)
		ns := NamedSignature{Key: hex.EncodeToString(pubA), Signature: sig}
		env, _ := json.Marshal(wireEnvelope{Machines: v2Payload0, Signatures: []NamedSignature{ns, ns}})
		if _, err := Open(env, Trust{Signers: signers(2)}); !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "same key") {
			t.Fatalf("got %v", err)
		}
		// Also when the hex is written in capitals.
		ns2 := ns
		ns2.Key = strings.ToUpper(ns.Key)
		env, _ = json.Marshal(wireEnvelope{Machines: v2Payload0, Signatures: []NamedSignature{ns, ns2}})
		if _, err := DecodeEnvelope(env); !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "same key") {
			t.Fatalf("capitals: %v", err)
		}
	})
	t.Run("a named signature that does not verify is said, and does not count", func(t *testing.T) {
		sig, _ := Sign(privB, v2Payload0) // B's signature, named as A's
		env, _ := json.Marshal(wireEnvelope{Machines: v2Payload0, Signatures: []NamedSignature{{Key: hex.EncodeToString(pubA), Signature: sig}}})
		_, err := Open(env, Trust{Signers: signers(1)})
		if !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bare-key nodes ignore named signatures; a bare key still signs alone beside a keyring", func(t *testing.T) {
		env := multiEnvelope(t, v2Payload0, nil, privA)
		if _, err := Open(env, Trust{Keys: []ed25519.PublicKey{pubA}}); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("a bare-key node took a named signature: %v", err)
		}
		pubC, privC := newKey(t)
		env = multiEnvelope(t, v2Payload0, privC)
		s, err := Open(env, Trust{Keys: []ed25519.PublicKey{pubC}, Signers: signers(2)})
		if err != nil || s.Signing != nil || s.Signer != hex.EncodeToString(pubC) {
			t.Fatalf("bare key beside a keyring: %v %+v", err, s)
		}
		if _, err := Open(multiEnvelope(t, v2Payload0, nil), Trust{Keys: []ed25519.PublicKey{pubC}, Signers: signers(1)}); err == nil || !strings.Contains(err.Error(), "no bare trusted key signed it") {
			t.Fatalf("neither: %v", err)
		}
	})
	t.Run("a keyring signs only v2 in the machines envelope", func(t *testing.T) {
		if _, err := AddSignature(multiEnvelope(t, []byte(`[]`), nil), privA); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("v1: %v", err)
		}
		v1 := multiEnvelope(t, []byte(`[]`), privA)
		if _, err := Open(v1, Trust{Signers: signers(1)}); !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "only v2") {
			t.Fatalf("v1 signed by a signer: %v", err)
		}
		plugins := []byte(`{"plugins":"W10=","signatures":[]}`)
		if _, err := DecodeEnvelope(plugins); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("plugins with signatures: %v", err)
		}
	})
	t.Run("an unusable keyring counts no signer, and says why", func(t *testing.T) {
		ss := signers(1)
		ss.Unusable = "keyring version 3 expired at 2026-01-01T00:00:00Z"
		if _, err := Open(multiEnvelope(t, v2Payload0, nil, privA), Trust{Signers: ss}); !errors.Is(err, errs.ErrSignature) || !strings.Contains(err.Error(), "expired at") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("malformed lists are refused", func(t *testing.T) {
		enc := base64.StdEncoding.EncodeToString(v2Payload0)
		for _, list := range []string{`{}`, `[1]`, `[{"key":"00"}]`, `[{"key":"` + hex.EncodeToString(pubA) + `","signature":"zz"}]`,
			`[{"key":"` + hex.EncodeToString(pubA) + `","signature":"` + strings.Repeat("0", 128) + `","extra":1}]`} {
			if _, err := DecodeEnvelope([]byte(`{"machines":"` + enc + `","signatures":` + list + `}`)); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("%s: %v", list, err)
			}
		}
	})
}

func TestBindsWithKeyring(t *testing.T) {
	pubA, _ := newKey(t)
	pubB, _ := newKey(t)
	ss := &Signers{Required: 1, List: []Signer{{Name: "b", Key: pubB}}}
	a := &Accepted{Format: 2, Version: 9, Signers: []string{hex.EncodeToString(pubA)}}
	if a.Binds(Trust{Signers: ss}) {
		t.Fatal("a floor set by a signer no longer in the keyring binds")
	}
	if a.Binds(Trust{Keys: []ed25519.PublicKey{pubA}}) {
		t.Fatal("a floor a keyring signer set binds a node that trusts no keyring")
	}
	b := &Accepted{Format: 2, Version: 9, Signers: []string{hex.EncodeToString(pubB)}}
	if !b.Binds(Trust{Signers: ss}) {
		t.Fatal("a floor set by a signer still in the keyring does not bind")
	}
	unusable := *ss
	unusable.Unusable = "expired"
	if !b.Binds(Trust{Signers: &unusable}) {
		t.Fatal("an unusable keyring lifted a floor")
	}
	if !a.Binds(Trust{Signers: &Signers{Unusable: "no keyring that the configured roots vouch for is found"}}) {
		t.Fatal("a keyring the node could not reach lifted a floor")
	}
	two := &Signers{Required: 2, List: []Signer{{Name: "b", Key: pubB}, {Name: "c"}}}
	ab := &Accepted{Format: 2, Version: 9, Signers: []string{hex.EncodeToString(pubA), hex.EncodeToString(pubB)}, SignersRequired: 2}
	if ab.Binds(Trust{Signers: two}) {
		t.Fatal("a floor two signers set binds when one of them is gone and two were needed")
	}
	if !b.Binds(Trust{Signers: two}) {
		t.Fatal("raising the keyring's threshold lifted a floor one signer set when one was needed")
	}
}
