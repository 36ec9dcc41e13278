package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// Trust is what a node trusts: the public keys whose signatures it accepts, strongest source
// first, the signers of the keyring it holds, and whether it may act on a specification when
// it has neither.
type Trust struct {
	// Keys are the trusted ed25519 public keys; any of them may sign (rotation), for any
	// machine.
	Keys []ed25519.PublicKey
	// Signers, when set, are the online signers of the keyring the node holds (package
	// keyring): a v2 specification that no bare key signed is accepted when enough of them
	// signed it, each entry within their scope.
	Signers *Signers
	// Now is the time signer expiry is judged at; nil means time.Now.
	Now func() time.Time
	// InsecureAllowUnsigned lets a node with no key act on unsigned specifications, as
	// go-choria v0.29.4 did. It has no effect when Keys or Signers are set.
	InsecureAllowUnsigned bool
}

// Empty tells whether trust names no key and no keyring.
func (t Trust) Empty() bool { return len(t.Keys) == 0 && t.Signers == nil }

// Open decodes an envelope, checks its signatures against trust and validates its payload.
// With keys or a keyring configured, an unsigned or badly signed specification is refused with
// errs.ErrSignature before its payload is even parsed: a bare trusted key's signature (the
// envelope's "signature") is enough, as it always was; otherwise a v2 specification needs
// trust.Signers.Required distinct, unexpired keyring signers, and each entry must be within
// the scope of that many of them (errs.ErrScope). With neither, Open refuses with
// errs.ErrInsecure unless trust.InsecureAllowUnsigned is set.
func Open(data []byte, trust Trust) (*Spec, error) {
	env, err := DecodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	signedBy := -1
	var signing *Signing
	switch {
	case len(trust.Keys) > 0 && trust.Signers == nil:
		if signedBy, err = VerifySignature(trust.Keys, env.SignedBytes(), env.Signature); err != nil {
			return nil, err
		}
	case trust.Signers != nil:
		if signedBy, signing, err = trust.verify(env); err != nil {
			return nil, err
		}
	case !trust.InsecureAllowUnsigned:
		return nil, fmt.Errorf("%w: no trusted public key is configured (give one, or allow unsigned specifications explicitly)", errs.ErrInsecure)
	}
	s, err := ParsePayload(env.Payload)
	if err != nil {
		return nil, err
	}
	s.Kind = env.Kind
	s.SignedBy = signedBy
	if signedBy >= 0 {
		s.Signer = hex.EncodeToString(trust.Keys[signedBy])
	}
	if signing != nil {
		if s.Format != 2 {
			return nil, fmt.Errorf("%w: a keyring's signers sign only v2 specifications (a v1 one has no version to protect against replay)", errs.ErrSignature)
		}
		var outside []string
		for _, e := range s.Entries {
			if !signing.Covers(e.Name) {
				outside = append(outside, e.Name)
			}
		}
		if len(outside) > 0 {
			return nil, signing.ScopeError("entry", outside...)
		}
		s.Signing = signing
	}
	return s, nil
}

// verify checks env against a trust with a keyring: a bare key's signature first (any machine),
// else the keyring's signers. The refusal gives both reasons when both were tried.
func (t Trust) verify(env *Envelope) (int, *Signing, error) {
	var bare error
	if len(t.Keys) > 0 {
		i, err := VerifySignature(t.Keys, env.SignedBytes(), env.Signature)
		if err == nil {
			return i, nil, nil
		}
		bare = err
	}
	if env.Kind != KindMachines {
		return -1, nil, fmt.Errorf("%w: a %s envelope is not signed by a trusted key, and a keyring's signers sign only the machines envelope", errs.ErrSignature, env.Kind)
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	g, err := t.Signers.judge(env, now())
	if err != nil && bare != nil {
		return -1, nil, fmt.Errorf("%w (and no bare trusted key signed it: %v)", err, strings.TrimPrefix(bare.Error(), errs.ErrSignature.Error()+": "))
	}
	return -1, g, err
}
