package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// ParsePublicKey decodes an ed25519 public key given as 64 hex characters.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key must be %d hex characters, got %d", errs.ErrInvalidKey, 2*ed25519.PublicKeySize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: public key is not hex: %v", errs.ErrInvalidKey, err)
	}
	return ed25519.PublicKey(b), nil
}

// ParsePublicKeys decodes several public keys, naming the position of a bad one.
func ParsePublicKeys(keys []string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for i, k := range keys {
		pk, err := ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("public key %d: %w", i+1, err)
		}
		out = append(out, pk)
	}
	return out, nil
}

// ParsePrivateKey decodes an ed25519 private key given as 128 hex characters, the form
// go-choria's `mms keys` prints (seed followed by public key). The public half must match the
// seed, so that a damaged key cannot silently make signatures no node accepts.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key must be %d hex characters, got %d", errs.ErrInvalidKey, 2*ed25519.PrivateKeySize, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: private key is not hex: %v", errs.ErrInvalidKey, err)
	}
	pk := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	if !bytes.Equal(pk, b) {
		return nil, fmt.Errorf("%w: private key's public half does not match its seed", errs.ErrInvalidKey)
	}
	return pk, nil
}

// LoadPrivateKey reads a private key given either as hex text or as the path of a file holding it.
func LoadPrivateKey(arg string) (ed25519.PrivateKey, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: read key file %s: %v", errs.ErrInvalidKey, arg, err)
		}
		pk, err := ParsePrivateKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", arg, err)
		}
		return pk, nil
	}
	return ParsePrivateKey(arg)
}

// LoadPublicKey reads a public key given either as hex text or as the path of a file holding it.
func LoadPublicKey(arg string) (ed25519.PublicKey, error) {
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: read key file %s: %v", errs.ErrInvalidKey, arg, err)
		}
		pk, err := ParsePublicKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", arg, err)
		}
		return pk, nil
	}
	return ParsePublicKey(arg)
}
