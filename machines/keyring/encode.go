package keyring

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

// wirePayload is the payload as mms writes it.
type wirePayload struct {
	Version       int64        `json:"version"`
	Issued        string       `json:"issued"`
	Expires       string       `json:"expires"`
	Roots         wireRoots    `json:"roots"`
	Signers       []wireSigner `json:"signers,omitempty"`
	SpecThreshold int          `json:"spec_threshold"`
}

type wireRoots struct {
	Keys      []string `json:"keys"`
	Threshold int      `json:"threshold"`
}

type wireSigner struct {
	Name     string   `json:"name"`
	Key      string   `json:"key"`
	Machines []string `json:"machines"`
	Expires  string   `json:"expires"`
}

// wireDocument is the document: the base64 payload and the roots' signatures.
type wireDocument struct {
	Keyring    []byte                `json:"keyring"`
	Signatures []spec.NamedSignature `json:"signatures"`
}

// Draft is a keyring being written: its fields, before a payload exists. Seal checks it as a
// node would and makes the unsigned keyring.
type Draft struct {
	// Version, Issued and Expires are the keyring's (see Keyring).
	Version         int64
	Issued, Expires time.Time
	// Roots and RootThreshold are its root keys and how many of them must sign it.
	Roots         []ed25519.PublicKey
	RootThreshold int
	// Signers are its online signers, SpecThreshold how many must sign a specification.
	Signers       []spec.Signer
	SpecThreshold int
}

// Seal writes d's payload and parses it back, so that a draft a node would refuse is refused
// here with the node's reason.
func (d Draft) Seal() (*Keyring, error) {
	w := wirePayload{Version: d.Version, Issued: stamp(d.Issued), Expires: stamp(d.Expires), SpecThreshold: d.SpecThreshold,
		Roots: wireRoots{Threshold: d.RootThreshold, Keys: make([]string, len(d.Roots))}}
	for i, r := range d.Roots {
		w.Roots.Keys[i] = hex.EncodeToString(r)
	}
	for _, s := range d.Signers {
		w.Signers = append(w.Signers, wireSigner{Name: s.Name, Key: hex.EncodeToString(s.Key), Machines: s.Machines, Expires: stamp(s.Expires)})
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("write keyring version %d: %w", d.Version, err)
	}
	return ParsePayload(payload)
}

// Draft returns k's fields, to change into the next version (Next) or to edit.
func (k *Keyring) Draft() Draft {
	return Draft{Version: k.Version, Issued: k.Issued, Expires: k.Expires, Roots: append([]ed25519.PublicKey(nil), k.Roots...),
		RootThreshold: k.RootThreshold, Signers: append([]spec.Signer(nil), k.Signers...), SpecThreshold: k.SpecThreshold}
}

// Next returns the draft of the version after k, issued at now and valid as long as k was
// (from its issue to its expiry): the roots of k and of the new version must sign it.
func (k *Keyring) Next(now time.Time) Draft {
	d := k.Draft()
	d.Version, d.Issued = k.Version+1, now.UTC().Truncate(time.Second)
	d.Expires = d.Issued.Add(k.Expires.Sub(k.Issued))
	return d
}

// Document is k as a node reads it: the base64 payload and the signatures.
func (k *Keyring) Document() ([]byte, error) {
	sigs := k.Signatures
	if sigs == nil {
		sigs = []spec.NamedSignature{}
	}
	out, err := json.MarshalIndent(wireDocument{Keyring: k.Payload, Signatures: sigs}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write keyring version %d: %w", k.Version, err)
	}
	return append(out, '\n'), nil
}

// Sign adds key's signature to k. A key that already signed it is refused rather than counted
// twice.
func (k *Keyring) Sign(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: private key is %d bytes, want %d", errs.ErrInvalidKey, len(key), ed25519.PrivateKeySize)
	}
	pub := hex.EncodeToString(key.Public().(ed25519.PublicKey))
	for _, s := range k.Signatures {
		if s.Key == pub {
			return fmt.Errorf("%w: key %s has already signed keyring version %d", errs.ErrKeyring, pub, k.Version)
		}
	}
	if len(k.Signatures) >= spec.MaxSignatures {
		return fmt.Errorf("%w: keyring version %d already carries %d signatures", errs.ErrKeyring, k.Version, len(k.Signatures))
	}
	ns, err := spec.SignatureFor(key, k.Payload)
	if err != nil {
		return err
	}
	k.Signatures = append(k.Signatures, ns)
	return nil
}

// Position is pub's place among keys, from 1 (root 2 of 3); 0 when it is not one of them.
func Position(keys []ed25519.PublicKey, pub ed25519.PublicKey) int {
	for i, k := range keys {
		if k.Equal(pub) {
			return i + 1
		}
	}
	return 0
}
