package install

import "errors"

var (
	// ErrLocked means another mms process (or another Store in this one) holds the machines
	// directory's lock. The error names the directory.
	ErrLocked = errors.New("machines directory is locked by another mms process")
	// ErrRecord means .mms/state.json is unreadable or corrupt. It is never treated as empty:
	// a lost record must not lead to a deletion, nor to a rollback being accepted.
	ErrRecord = errors.New("install record unreadable")
	// ErrClosed means a Store method was called after Close.
	ErrClosed = errors.New("store closed")
	// ErrReadOnly means a change was asked of a Store opened with Inspect.
	ErrReadOnly = errors.New("store opened read-only")
)
