// Package testkeyring makes keyrings for tests outside package keyring: real keys, real
// signatures, documents as mms keyring writes them.
package testkeyring

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

// Pair is an ed25519 key pair.
type Pair struct {
	Pub  ed25519.PublicKey
	Priv ed25519.PrivateKey
}

// Hex is the public key in hex, as nodes are configured with it.
func (p Pair) Hex() string { return hex.EncodeToString(p.Pub) }

// NewPair makes a key pair.
func NewPair(t testing.TB) Pair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Pair{pub, priv}
}

// Pubs lists the public keys of ps.
func Pubs(ps ...Pair) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(ps))
	for i, p := range ps {
		out[i] = p.Pub
	}
	return out
}

// Signer is a signer called name with p's key for patterns, valid for a year from now.
func Signer(name string, p Pair, patterns ...string) spec.Signer {
	return spec.Signer{Name: name, Key: p.Pub, Machines: patterns, Expires: time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)}
}

// Draft is version v of a keyring with roots (threshold k) and signers, issued a minute ago
// and valid for a year, needing one signature per specification.
func Draft(v int64, roots []Pair, k int, signers ...spec.Signer) keyring.Draft {
	now := time.Now().UTC().Truncate(time.Second)
	return keyring.Draft{Version: v, Issued: now.Add(-time.Minute), Expires: now.Add(365 * 24 * time.Hour), Roots: Pubs(roots...),
		RootThreshold: k, Signers: signers, SpecThreshold: 1}
}

// Document seals d, signs it with by and returns its document.
func Document(t testing.TB, d keyring.Draft, by ...Pair) []byte {
	t.Helper()
	k, err := d.Seal()
	if err != nil {
		t.Fatalf("seal keyring version %d: %v", d.Version, err)
	}
	for _, p := range by {
		if err := k.Sign(p.Priv); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := k.Document()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Cosign adds p's named signature to the specification envelope env.
func Cosign(t testing.TB, env []byte, p Pair) []byte {
	t.Helper()
	out, err := spec.AddSignature(env, p.Priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
