package spec

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"filippo.io/edwards25519"

	"github.com/mms-io/mms/machines/errs"
)

// smallOrder are encodings of points of small order: with any of them as the trusted key, a
// forged signature (R the identity, S = 0) verifies for every message.
var smallOrder = []string{
	strings.Repeat("00", 32),                                           // (x, 0): order 4
	"01" + strings.Repeat("00", 31),                                    // the identity: order 1
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, -1): order 2
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
}

func TestDegenerateKeys(t *testing.T) {
	for _, k := range smallOrder {
		t.Run("refuses the small-order key "+k[:8]+"…", func(t *testing.T) {
			_, err := ParsePublicKey(k)
			if !errors.Is(err, errs.ErrInvalidKey) || !strings.Contains(err.Error(), "small order") {
				t.Fatalf("ParsePublicKey(%s) = %v, want a refusal for small order", k, err)
			}
		})
	}

	t.Run("the attack is real: under the identity key a forgery without the private key verifies", func(t *testing.T) {
		// R = the identity, S = 0: [S]B = R + [k]A holds for A the identity, whatever the message.
		forged := append(mustHex(t, smallOrder[1]), make([]byte, 32)...)
		if !ed25519.Verify(mustHex(t, smallOrder[1]), []byte(`{"machines":"anything"}`), forged) {
			t.Fatal("crypto/ed25519 refused the forgery: the refusal above guards nothing here")
		}
	})

	t.Run("refuses a key with a small-order component", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p, err := new(edwards25519.Point).SetBytes(pub)
		if err != nil {
			t.Fatal(err)
		}
		torsion, err := new(edwards25519.Point).SetBytes(mustHex(t, smallOrder[3]))
		if err != nil {
			t.Fatal(err)
		}
		mixed := hex.EncodeToString(new(edwards25519.Point).Add(p, torsion).Bytes())
		if _, err := ParsePublicKey(mixed); !errors.Is(err, errs.ErrInvalidKey) || !strings.Contains(err.Error(), "prime-order") {
			t.Fatalf("ParsePublicKey(mixed) = %v", err)
		}
	})

	t.Run("refuses bytes that are not a point", func(t *testing.T) {
		// y = 2 has no x on the curve.
		if _, err := ParsePublicKey("02" + strings.Repeat("00", 31)); !errors.Is(err, errs.ErrInvalidKey) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("accepts keys that signers make", func(t *testing.T) {
		for range 20 {
			pub, _, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParsePublicKey(hex.EncodeToString(pub)); err != nil {
				t.Fatalf("refused a generated key: %v", err)
			}
		}
	})
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
