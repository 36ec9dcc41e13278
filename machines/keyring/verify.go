package keyring

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

// Anchor is what a node is configured with: the root keys it trusts and how many of them must
// sign the first keyring it takes.
type Anchor struct {
	// Roots are the configured root keys.
	Roots []ed25519.PublicKey
	// Threshold is how many of them must sign the first keyring a node takes.
	Threshold int
}

// NewAnchor checks roots and threshold as a keyring's own are checked: at least one key, no
// key twice, a threshold between 1 and the number of keys. A threshold of 0 means "not given":
// it is 1 with one root, and must be given with more.
func NewAnchor(roots []ed25519.PublicKey, threshold int) (Anchor, error) {
	seen := map[string]bool{}
	for _, r := range roots {
		if len(r) != ed25519.PublicKeySize {
			return Anchor{}, fmt.Errorf("%w: root key is %d bytes, want %d", errs.ErrInvalidKey, len(r), ed25519.PublicKeySize)
		}
		if seen[string(r)] {
			return Anchor{}, fmt.Errorf("%w: root key %s is given twice", errs.ErrKeyring, hex.EncodeToString(r))
		}
		seen[string(r)] = true
	}
	switch {
	case len(roots) == 0:
		return Anchor{}, fmt.Errorf("%w: a keyring threshold needs root keys", errs.ErrKeyring)
	case threshold == 0 && len(roots) == 1:
		threshold = 1
	case threshold == 0:
		return Anchor{}, fmt.Errorf("%w: %d root keys are given: say how many must sign (a threshold between 1 and %d)", errs.ErrKeyring, len(roots), len(roots))
	case threshold < 1 || threshold > len(roots):
		return Anchor{}, fmt.Errorf("%w: root threshold %d must be between 1 and the %d root key(s) (a threshold of 0 disables verification, as CVE-2026-23992 did in go-tuf)", errs.ErrKeyring, threshold, len(roots))
	}
	return Anchor{Roots: roots, Threshold: threshold}, nil
}

// IsZero tells whether no root is configured.
func (a Anchor) IsZero() bool { return len(a.Roots) == 0 }

// Fingerprint identifies the anchor (its keys in any order and its threshold): a node that is
// given other roots starts again from them rather than from a keyring another anchor led to.
func (a Anchor) Fingerprint() string {
	keys := make([]string, len(a.Roots))
	for i, r := range a.Roots {
		keys[i] = hex.EncodeToString(r)
	}
	sort.Strings(keys)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d:%s", a.Threshold, strings.Join(keys, ","))))
	return hex.EncodeToString(sum[:])
}

// rootsSigned checks that threshold of roots signed k (whose roots: "its own", "of version N",
// "the configured"), with the reason when they did not.
func (k *Keyring) rootsSigned(roots []ed25519.PublicKey, threshold int, whose string) error {
	n, bad := k.SignedBy(roots)
	if n >= threshold {
		return nil
	}
	reasons := ""
	if len(bad) > 0 {
		reasons = "; " + strings.Join(bad, "; ")
	}
	return fmt.Errorf("%w: keyring version %d is signed by %d of %s %d root key(s), %d needed%s", errs.ErrKeyring, k.Version, n, whose, len(roots), threshold, reasons)
}

// SignedBy counts the keys of roots that signed k, with the reasons of signatures naming one
// of them that do not verify.
func (k *Keyring) SignedBy(roots []ed25519.PublicKey) (n int, bad []string) {
	signed, bad := spec.SignedKeys(k.Payload, "", k.Signatures, roots)
	for _, ok := range signed {
		if ok {
			n++
		}
	}
	return n, bad
}

// SelfSigned checks that a threshold of k's own roots signed it: what every keyring needs,
// whatever else vouches for it.
func (k *Keyring) SelfSigned() error { return k.rootsSigned(k.Roots, k.RootThreshold, "its own") }

// Vouches checks that a may start from k: a's threshold of its roots and k's own threshold of
// its roots signed it.
func (a Anchor) Vouches(k *Keyring) error {
	if err := k.rootsSigned(a.Roots, a.Threshold, "the configured"); err != nil {
		return err
	}
	return k.SelfSigned()
}

// Follows checks that next may replace k: it is exactly the next version, and a threshold of
// k's roots and a threshold of next's own roots signed it (TUF's root rotation), so that
// neither the old roots alone nor the new ones alone can change the keyring.
func (k *Keyring) Follows(next *Keyring) error {
	if next.Version != k.Version+1 {
		return fmt.Errorf("%w: keyring version %d cannot follow version %d: each change is the next version", errs.ErrKeyring, next.Version, k.Version)
	}
	if err := next.rootsSigned(k.Roots, k.RootThreshold, fmt.Sprintf("version %d's", k.Version)); err != nil {
		return err
	}
	return next.SelfSigned()
}

// Expired returns the refusal of k at now when it has expired, nil otherwise.
func (k *Keyring) Expired(now time.Time) error {
	if now.Before(k.Expires) {
		return nil
	}
	return fmt.Errorf("%w: keyring version %d expired at %s", errs.ErrKeyring, k.Version, stamp(k.Expires))
}

// Trust returns what spec.Open checks specifications against at now: k's signers and its
// threshold, none of them counting when k has expired (the reason is then in the refusal).
func (k *Keyring) Trust(now time.Time) *spec.Signers {
	ss := &spec.Signers{Keyring: k.Version, List: k.Signers, Required: k.SpecThreshold}
	if !now.Before(k.Expires) {
		// Unusable is said inside a signature refusal: the words alone, not the family.
		ss.Unusable = fmt.Sprintf("keyring version %d expired at %s", k.Version, stamp(k.Expires))
	}
	return ss
}
