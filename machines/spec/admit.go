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
func Admit(s *Spec, last *Accepted, now time.Time) error {
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return fmt.Errorf("%w: spec expired at %s", errs.ErrExpired, s.Expires.UTC().Format(time.RFC3339))
	}
	if last == nil || last.Format != 2 {
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

// NewAccepted is the record to keep once a node has acted on s.
func NewAccepted(s *Spec, now time.Time) Accepted {
	return Accepted{Format: s.Format, Version: s.Version, Digest: s.Digest, At: now.UTC()}
}
