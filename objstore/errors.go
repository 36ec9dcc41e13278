package objstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
)

var (
	// ErrNoBucket means the URL's bucket does not exist on the connection's account.
	ErrNoBucket = errors.New("no such Object Store bucket")
	// ErrNoObject means the bucket holds no object of that name, or it was deleted.
	ErrNoObject = errors.New("no such object")
	// ErrDenied means the server refused the connection's user access to the bucket: a
	// permissions violation on its $JS.API or $O subjects, or on the connection's inbox. The
	// server does not answer a request it refuses, so Fetch says so once the request has gone
	// unanswered for ConnectTimeout.
	ErrDenied = errors.New("access denied")
)

// Error reports a failed download from the Object Store and why. It reads
// `GET obj://archives/web-1.0.tgz: no such object: ...`, and mentions the attempts when there
// were more than one. Like fetch.Error it matches the sentinel of its reason with errors.Is —
// errs.ErrLimit (a *errs.LimitError), errs.ErrChecksum or errs.ErrInvalidSpec — and
// errs.ErrFetch for every other reason (missing bucket or object, access denied, the server,
// the connection, cancellation).
type Error struct {
	// URL is the source: obj://BUCKET/NAME, or the redacted URL when it did not parse.
	URL string
	// Attempts is how many attempts were made; the text mentions it when above 1.
	Attempts int
	// Err is the reason.
	Err error
}

// Error says which object failed and why.
func (e *Error) Error() string {
	s := "GET " + e.URL + ": " + e.Err.Error()
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Is matches errs.ErrFetch unless the reason belongs to another mms family, so that a host's
// memory of failed downloads backs off a missing or denied object as it does an HTTP 404.
func (e *Error) Is(target error) bool {
	if target != errs.ErrFetch {
		return false
	}
	for _, other := range []error{errs.ErrLimit, errs.ErrChecksum, errs.ErrInvalidSpec} {
		if errors.Is(e.Err, other) {
			return false
		}
	}
	return true
}

// bytesLimit is the max_download_bytes limit, as the HTTP fetcher names it.
func bytesLimit(limit int64, what string) error {
	return &errs.LimitError{Name: fetch.LimitMaxBytes, Limit: limit, Unit: "bytes", What: what}
}

// timeoutLimit is the download_timeout limit exactly as the HTTP fetcher reports it: in whole
// seconds, or in milliseconds when the value is not a whole number of seconds.
func timeoutLimit(d time.Duration) error {
	le := &errs.LimitError{Name: fetch.LimitTimeout, What: "the download", Limit: int64(d / time.Second), Unit: "seconds"}
	if d%time.Second != 0 {
		le.Limit, le.Unit = d.Milliseconds(), "milliseconds"
	}
	return le
}
