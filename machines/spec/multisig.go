package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/machines/errs"
)

// MaxSignatures bounds the signatures one list may carry (a v2 envelope's or a keyring's): far
// above any threshold an operator sets, far below what would make verification a cost.
const MaxSignatures = 32

// NamedSignature is one signature of a list, naming the key that made it, so that a verifier
// counts each key once and two people can sign on two machines.
type NamedSignature struct {
	// Key is the signer's ed25519 public key, 64 hex characters.
	Key string `json:"key"`
	// Signature is the hex ed25519 signature.
	Signature string `json:"signature"`
}

// DecodeSignatures parses a JSON list of named signatures strictly: at most MaxSignatures,
// each exactly {"key", "signature"} with a valid public key and a signature of the right size,
// and no key twice (the same key must never count twice toward a threshold). what names the
// list for errors ("envelope", "keyring").
func DecodeSignatures(raw []byte, what string) ([]NamedSignature, error) {
	v := gjson.ParseBytes(raw)
	if v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, fmt.Errorf("%w: %s signatures must be a list", errs.ErrInvalidSpec, what)
	}
	items := v.Array()
	if len(items) > MaxSignatures {
		return nil, fmt.Errorf("%w: %s carries %d signatures, at most %d are read", errs.ErrInvalidSpec, what, len(items), MaxSignatures)
	}
	out := make([]NamedSignature, 0, len(items))
	seen := map[string]int{}
	for i, item := range items {
		ns, err := decodeNamedSignature(item)
		if err != nil {
			return nil, fmt.Errorf("%w: %s signature %d: %v", errs.ErrInvalidSpec, what, i+1, err)
		}
		if j, dup := seen[ns.Key]; dup {
			return nil, fmt.Errorf("%w: %s signatures %d and %d are by the same key %s: a key counts once", errs.ErrInvalidSpec, what, j+1, i+1, ns.Key)
		}
		seen[ns.Key] = i
		out = append(out, ns)
	}
	return out, nil
}

// decodeNamedSignature parses one {"key", "signature"} object, its key in canonical
// lowercase hex.
func decodeNamedSignature(item gjson.Result) (NamedSignature, error) {
	if !item.IsObject() {
		return NamedSignature{}, fmt.Errorf("must be an object with \"key\" and \"signature\"")
	}
	var ns NamedSignature
	var problem error
	got := map[string]bool{}
	item.ForEach(func(k, v gjson.Result) bool {
		if got[k.Str] {
			problem = fmt.Errorf("gives %q twice", k.Str)
			return false
		}
		got[k.Str] = true
		if v.Type != gjson.String {
			problem = fmt.Errorf("%q must be a string", k.Str)
			return false
		}
		switch k.Str {
		case "key":
			ns.Key = v.Str
		case "signature":
			ns.Signature = v.Str
		default:
			problem = fmt.Errorf("unknown field %q (want \"key\" and \"signature\")", k.Str)
			return false
		}
		return true
	})
	switch {
	case problem != nil:
		return NamedSignature{}, problem
	case !got["key"] || !got["signature"]:
		return NamedSignature{}, fmt.Errorf("must give both \"key\" and \"signature\"")
	}
	key, err := ParsePublicKey(ns.Key)
	if err != nil {
		return NamedSignature{}, err
	}
	ns.Key = hex.EncodeToString(key)
	if _, err := decodeSignature(ns.Signature); err != nil {
		return NamedSignature{}, err
	}
	return ns, nil
}

// decodeSignature decodes a hex ed25519 signature, checking its size.
func decodeSignature(sig string) ([]byte, error) {
	if len(sig) != 2*ed25519.SignatureSize {
		return nil, fmt.Errorf("signature must be %d hex characters, got %d", 2*ed25519.SignatureSize, len(sig))
	}
	raw, err := hex.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("signature is not hex: %v", err)
	}
	return raw, nil
}

// SignedKeys tells which of keys signed msg: signed[i] when a signature in sigs names keys[i]
// and verifies, or when single (an unnamed signature, the envelope's go-choria "signature")
// verifies with keys[i]. A named signature by one of keys that does not verify is returned in
// bad, as a reason; signatures by other keys are ignored (they may count for someone else).
// Each key counts once however many times it signed.
func SignedKeys(msg []byte, single string, sigs []NamedSignature, keys []ed25519.PublicKey) (signed []bool, bad []string) {
	signed = make([]bool, len(keys))
	var singleRaw []byte
	if single != "" {
		singleRaw, _ = decodeSignature(single)
	}
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			continue
		}
		kh := hex.EncodeToString(k)
		for _, ns := range sigs {
			if ns.Key != kh {
				continue
			}
			raw, err := decodeSignature(ns.Signature)
			if err == nil && ed25519.Verify(k, msg, raw) {
				signed[i] = true
			} else {
				bad = append(bad, fmt.Sprintf("the signature naming key %s does not verify", kh))
			}
		}
		if !signed[i] && singleRaw != nil && ed25519.Verify(k, msg, singleRaw) {
			// One signature verifies under one key: the others need not hash msg for it.
			signed[i], singleRaw = true, nil
		}
	}
	return signed, bad
}

// SignatureFor returns a named signature of msg by key.
func SignatureFor(key ed25519.PrivateKey, msg []byte) (NamedSignature, error) {
	sig, err := Sign(key, msg)
	if err != nil {
		return NamedSignature{}, err
	}
	return NamedSignature{Key: hex.EncodeToString(key.Public().(ed25519.PublicKey)), Signature: sig}, nil
}

// hasKey tells whether sigs holds a signature naming pub.
func hasKey(sigs []NamedSignature, pub ed25519.PublicKey) bool {
	for _, ns := range sigs {
		if k, err := hex.DecodeString(ns.Key); err == nil && bytes.Equal(k, pub) {
			return true
		}
	}
	return false
}
