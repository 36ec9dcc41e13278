package spec

import (
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// Admit decides whether a node may act on s, given what its machines directory last accepted
// (nil when nothing yet) and the time now. It is a pure function shared by the watcher, the
// agent and mms apply; the caller records NewAccepted(s, now) once it has acted.
//
// It refuses an expired specification, a v2 version lower than the one accepted, an equal
// version with different content (a new specification needs a higher version), and any v1
// specification once a v2 one was accepted (v1 carries no version, so it could roll back).
//
// trust is what the node trusts now: a version accepted unsigned, or signed by a key or
// keyring signers no longer trusted, does not bind (Accepted.Binds). A v2 specification issued more than
// MaxIssuedAhead after now is refused: no clock is that wrong, and a far-future issue time
// would let a version far ahead of today pass as plausible.
func Admit(s *Spec, last *Accepted, trust Trust, now time.Time) error {
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return fmt.Errorf("%w: spec expired at %s", errs.ErrExpired, s.Expires.UTC().Format(time.RFC3339))
	}
	if s.Format == 2 && s.Issued.After(now.Add(MaxIssuedAhead)) {
		return fmt.Errorf("%w: spec issued at %s, more than %s after this node's clock (%s)", errs.ErrInvalidSpec,
			s.Issued.UTC().Format(time.RFC3339), MaxIssuedAhead, now.UTC().Format(time.RFC3339))
	}
	if last == nil || last.Format != 2 || !last.Binds(trust) {
		return nil
	}
	switch {
	case s.Format != 2:
		return fmt.Errorf("%w: a v1 spec cannot replace v2 spec version %d already applied", errs.ErrRollback, last.Version)
	case s.Version < last.Version:
		return fmt.Errorf("%w: spec version %d is older than version %d already applied", errs.ErrRollback, s.Version, last.Version)
	case s.Version == last.Version && s.Digest != last.Digest:
		return fmt.Errorf("%w: spec version %d differs from the version %d already applied; a changed spec needs a higher version", errs.ErrRollback, s.Version, last.Version)
	}
	return nil
}

// MaxIssuedAhead is how far after a node's clock a specification's issue time may be.
const MaxIssuedAhead = 24 * time.Hour

// NewAccepted is the record to keep once a node has acted on s.
func NewAccepted(s *Spec, now time.Time) Accepted {
	a := Accepted{Format: s.Format, Version: s.Version, Digest: s.Digest, At: now.UTC(), Key: s.Signer, Unsigned: !s.Signed()}
	if s.Signing != nil {
		a.Signers, a.SignersRequired = s.Signing.Keys(), s.Signing.Required
	}
	return a
}
