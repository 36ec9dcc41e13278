// Package errs holds the error families shared by every layer of mms, so that a caller (the
// watcher, the CLI, a test) can tell a signature refusal from a rollback from a checksum
// mismatch with errors.Is, without parsing text.
//
// Every package wraps one of these sentinels with the operation and the subject:
//
//	fmt.Errorf("%w: entry %q: checksum must be 64 hex characters", errs.ErrInvalidSpec, name)
package errs

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidSpec means a specification (envelope, payload or entry) is malformed or breaks a rule.
	ErrInvalidSpec = errors.New("invalid specification")
	// ErrSignature means a specification is unsigned, badly signed, or signed by no trusted key.
	ErrSignature = errors.New("signature refused")
	// ErrInvalidKey means an ed25519 key is malformed: wrong length, not hex, unreadable.
	ErrInvalidKey = errors.New("invalid key")
	// ErrRollback means a specification is older than, or conflicts with, one already accepted.
	ErrRollback = errors.New("rollback refused")
	// ErrExpired means a specification's expiry time has passed.
	ErrExpired = errors.New("specification expired")
	// ErrMatcher means an entry's matcher failed to compile or evaluate.
	ErrMatcher = errors.New("matcher failed")
	// ErrFetch means an archive could not be downloaded (network, status code, scheme, redirect).
	ErrFetch = errors.New("fetch failed")
	// ErrChecksum means content did not hash to the expected sha256.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrUnsafeArchive means an archive holds something mms refuses to unpack.
	ErrUnsafeArchive = errors.New("unsafe archive")
	// ErrLimit means a configured limit (size, count, time) was exceeded. Use *LimitError.
	ErrLimit = errors.New("limit exceeded")
	// ErrNotManaged means mms was asked to change a machine it did not install.
	ErrNotManaged = errors.New("not managed by mms")
	// ErrInsecure means an operation needs a trusted key or an explicit insecure switch.
	ErrInsecure = errors.New("refusing to run without a trusted key")
	// ErrUnsupported means a specification requires a feature (its v2 `requires` list) that this
	// build of mms does not know: the specification may well be valid, but this mms is older
	// than it needs, and the fix is a newer mms, not another specification. Use
	// *spec.UnsupportedError, which names the features.
	ErrUnsupported = errors.New("unsupported specification")
	// ErrScope means a specification asks for, or would remove, a machine that the keyring
	// signers who signed it may not sign for. It comes with ErrSignature.
	ErrScope = errors.New("outside the signers' scope")
	// ErrKeyring means a keyring document is malformed, not signed by enough root keys, older
	// than the one a node holds, or expired.
	ErrKeyring = errors.New("keyring refused")
)

// LimitError reports a limit that was exceeded, naming the limit so that the host can say
// which of its settings raises it. It matches ErrLimit with errors.Is.
type LimitError struct {
	// Name is the limit's canonical name, also the watcher property (max_download_bytes).
	Name string
	// Limit is the configured value, in Unit.
	Limit int64
	// Unit describes Limit: "bytes", "files", "redirects", "characters", "seconds".
	Unit string
	// What says what went over the limit: `GET https://host/a.tgz`, `archive "web"`.
	What string
}

// Error says what exceeded which limit. How to raise it is the host's to say, in its own
// words (a watcher property, a flag): see machines.Config.RaiseHint.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s exceeds the %s limit of %d %s", ErrLimit, e.What, e.Name, e.Limit, e.Unit)
}

// Is makes errors.Is(err, ErrLimit) true for every *LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }
