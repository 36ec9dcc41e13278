package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/mms-io/mms/machines/errs"
)

// Trust is what a node trusts: the public keys whose signatures it accepts, strongest source
// first, and whether it may act on a specification when it has no key at all.
type Trust struct {
	// Keys are the trusted ed25519 public keys; any of them may sign (rotation).
	Keys []ed25519.PublicKey
	// InsecureAllowUnsigned lets a node with no key act on unsigned specifications, as
	// go-choria v0.29.4 did. It has no effect when Keys is not empty.
	InsecureAllowUnsigned bool
}

// Open decodes an envelope, checks its signature against trust and validates its payload.
// With keys configured, an unsigned or badly signed specification is refused with
// errs.ErrSignature before its payload is even parsed. With no keys, Open refuses with
// errs.ErrInsecure unless trust.InsecureAllowUnsigned is set.
func Open(data []byte, trust Trust) (*Spec, error) {
	env, err := DecodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	signedBy := -1
	if len(trust.Keys) > 0 {
		signedBy, err = VerifySignature(trust.Keys, env.SignedBytes(), env.Signature)
		if err != nil {
			return nil, err
		}
	} else if !trust.InsecureAllowUnsigned {
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
	return s, nil
}
