package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// Sign returns the hex ed25519 signature of msg.
func Sign(key ed25519.PrivateKey, msg []byte) (string, error) {
	if len(key) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: private key is %d bytes, want %d", errs.ErrInvalidKey, len(key), ed25519.PrivateKeySize)
	}
	return hex.EncodeToString(ed25519.Sign(key, msg)), nil
}

// VerifySignature checks that sig (hex) is a signature of msg by one of keys and returns the
// index of the key that verified it. Every size is checked before ed25519.Verify, which panics
// on a wrong-length key.
func VerifySignature(keys []ed25519.PublicKey, msg []byte, sig string) (int, error) {
	if len(keys) == 0 {
		return -1, fmt.Errorf("%w: no trusted keys", errs.ErrSignature)
	}
	sig = strings.TrimSpace(sig)
	if sig == "" {
		return -1, fmt.Errorf("%w: specification is not signed", errs.ErrSignature)
	}
	if len(sig) != 2*ed25519.SignatureSize {
		return -1, fmt.Errorf("%w: signature must be %d hex characters, got %d", errs.ErrSignature, 2*ed25519.SignatureSize, len(sig))
	}
	raw, err := hex.DecodeString(sig)
	if err != nil {
		return -1, fmt.Errorf("%w: signature is not hex: %v", errs.ErrSignature, err)
	}
	for i, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return -1, fmt.Errorf("%w: trusted key %d is %d bytes, want %d", errs.ErrInvalidKey, i+1, len(k), ed25519.PublicKeySize)
		}
		if ed25519.Verify(k, msg, raw) {
			return i, nil
		}
	}
	if len(keys) == 1 {
		return -1, fmt.Errorf("%w: signature does not verify with the trusted key", errs.ErrSignature)
	}
	return -1, fmt.Errorf("%w: signature does not verify with any of %d trusted keys", errs.ErrSignature, len(keys))
}
