package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"filippo.io/edwards25519"

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
	if err := checkPoint(b); err != nil {
		return nil, fmt.Errorf("%w: public key %s: %v", errs.ErrInvalidKey, s, err)
	}
	return ed25519.PublicKey(b), nil
}

// lMinusOne is the order of the prime-order subgroup minus one, 2^252 +
// 27742317777372353535851937790883648492, as a canonical little-endian scalar.
var lMinusOne = func() *edwards25519.Scalar {
	b := [32]byte{0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(b[:])
	if err != nil {
		panic(err)
	}
	return s
}()

// checkPoint refuses a public key that is not a point of the curve's prime-order subgroup:
// a small-order key (00…00, the identity 01 00…00, and the other six) lets anyone forge
// signatures that ed25519.Verify accepts, and a key with a torsion component is no key a
// signer made.
func checkPoint(b []byte) error {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return fmt.Errorf("not a point of the curve")
	}
	identity := edwards25519.NewIdentityPoint()
	if new(edwards25519.Point).MultByCofactor(p).Equal(identity) == 1 {
		return fmt.Errorf("a point of small order, for which forged signatures verify")
	}
	// [L]P = [L-1]P + P is the identity exactly when P is in the prime-order subgroup.
	q := new(edwards25519.Point).ScalarMult(lMinusOne, p)
	if q.Add(q, p).Equal(identity) != 1 {
		return fmt.Errorf("not in the prime-order subgroup (it has a small-order component)")
	}
	return nil
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

// LoadPrivateKey reads a private key given either as hex text or as the path of a file holding
// it. A key file readable by anyone but its owner is refused, with the chmod that fixes it.
func LoadPrivateKey(arg string) (ed25519.PrivateKey, error) {
	data, file, err := readKeyArg(arg, 2*ed25519.PrivateKeySize, func(mode fs.FileMode) string {
		if mode&0o077 != 0 {
			return fmt.Sprintf("is readable by others (mode %04o): a signing key must be private; chmod 600 %s", mode.Perm(), arg)
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	pk, err := ParsePrivateKey(data)
	if err != nil && file {
		return nil, fmt.Errorf("key file %s: %w", arg, err)
	}
	return pk, err
}

// LoadPublicKey reads a public key given either as hex text or as the path of a file holding
// it. A trusted key file that anyone but its owner may write is refused, with the chmod that
// fixes it: whoever can write it chooses what the node trusts.
func LoadPublicKey(arg string) (ed25519.PublicKey, error) {
	data, file, err := readKeyArg(arg, 2*ed25519.PublicKeySize, func(mode fs.FileMode) string {
		if mode&0o022 != 0 {
			return fmt.Sprintf("is writable by others (mode %04o): whoever can write it chooses what this node trusts; chmod go-w %s", mode.Perm(), arg)
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	pk, err := ParsePublicKey(data)
	if err != nil && file {
		return nil, fmt.Errorf("key file %s: %w", arg, err)
	}
	return pk, err
}

// maxKeyFileBytes bounds what is read of a key file: a key is at most 128 hex characters.
const maxKeyFileBytes = 4096

// readKeyArg returns the key text arg stands for: the content of the file arg names, after
// unsafe says nothing against its mode, or arg itself when it is hex of the key's length. An
// argument that is neither is said to be a missing file, not a malformed key.
func readKeyArg(arg string, hexLen int, unsafe func(fs.FileMode) string) (text string, file bool, err error) {
	st, statErr := os.Stat(arg)
	if statErr != nil {
		if t := strings.TrimSpace(arg); len(t) == hexLen && isHex(t) {
			return arg, false, nil
		}
		if errors.Is(statErr, fs.ErrNotExist) {
			return "", false, fmt.Errorf("%w: key file %s does not exist (nor is it %d hex characters)", errs.ErrInvalidKey, arg, hexLen)
		}
		return "", false, fmt.Errorf("%w: key file %s: %v", errs.ErrInvalidKey, arg, statErr)
	}
	if !st.Mode().IsRegular() {
		return "", false, fmt.Errorf("%w: key file %s is a %s, not a file", errs.ErrInvalidKey, arg, st.Mode().Type())
	}
	if why := unsafe(st.Mode()); why != "" {
		return "", true, fmt.Errorf("%w: key file %s %s", errs.ErrInvalidKey, arg, why)
	}
	f, err := os.Open(arg)
	if err != nil {
		return "", true, fmt.Errorf("%w: read key file %s: %v", errs.ErrInvalidKey, arg, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes))
	if err != nil {
		return "", true, fmt.Errorf("%w: read key file %s: %v", errs.ErrInvalidKey, arg, err)
	}
	return string(data), true, nil
}

// isHex tells whether s holds only hex digits.
func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
