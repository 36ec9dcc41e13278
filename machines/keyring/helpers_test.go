package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/spec"
)

// t0 is the time the tests' keyrings are issued at.
var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// pair is a test key pair.
type pair struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newPair(t testing.TB) pair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pair{pub, priv}
}

func newPairs(t testing.TB, n int) []pair {
	out := make([]pair, n)
	for i := range out {
		out[i] = newPair(t)
	}
	return out
}

func pubs(ps ...pair) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(ps))
	for i, p := range ps {
		out[i] = p.pub
	}
	return out
}

// signer is a signer for machines matching patterns, valid for a year.
func signer(name string, p pair, patterns ...string) spec.Signer {
	return spec.Signer{Name: name, Key: p.pub, Machines: patterns, Expires: t0.Add(365 * 24 * time.Hour)}
}

// draft is version v with roots (threshold k) and signers.
func draft(v int64, roots []pair, k int, signers ...spec.Signer) Draft {
	return Draft{Version: v, Issued: t0, Expires: t0.Add(365 * 24 * time.Hour), Roots: pubs(roots...), RootThreshold: k, Signers: signers, SpecThreshold: 1}
}

// seal seals d and signs it with by.
func seal(t testing.TB, d Draft, by ...pair) *Keyring {
	t.Helper()
	k, err := d.Seal()
	if err != nil {
		t.Fatalf("seal version %d: %v", d.Version, err)
	}
	for _, p := range by {
		if err := k.Sign(p.priv); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// document is k's document.
func document(t testing.TB, k *Keyring) []byte {
	t.Helper()
	doc, err := k.Document()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// chain is a Fetcher over documents by version.
type chain map[int64][]byte

func (c chain) fetch(_ context.Context, v int64) ([]byte, error) {
	doc, ok := c[v]
	if !ok {
		return nil, fmt.Errorf("version %d: %w", v, ErrNotFound)
	}
	return doc, nil
}

func (c chain) add(t testing.TB, ks ...*Keyring) chain {
	for _, k := range ks {
		c[k.Version] = document(t, k)
	}
	return c
}

// payload edits a valid payload's JSON (as a map) with edit and returns it.
func payload(t testing.TB, k *Keyring, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(k.Payload, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
