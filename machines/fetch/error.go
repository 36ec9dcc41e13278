package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// Error reports a failed download: the request, with the URL's password redacted, and why
// it failed. It reads `GET https://host/x.tgz: 404 Not Found`. It matches the sentinel of its
// reason with errors.Is — errs.ErrLimit (a *errs.LimitError), errs.ErrChecksum or
// errs.ErrInvalidSpec — and errs.ErrFetch for every other reason (network, TLS, status code,
// scheme, redirect, cancellation).
type Error struct {
	// URL is the source's URL with any password redacted.
	URL string
	// StatusCode is the HTTP status of the last answer when it was not 200 OK, else 0.
	StatusCode int
	// Attempts is how many requests were made; the text mentions it when above 1.
	Attempts int
	// Err is the reason.
	Err error
}

// Error says which request failed and why.
func (e *Error) Error() string {
	s := "GET " + e.URL + ": " + e.Err.Error()
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Is matches errs.ErrFetch unless the reason belongs to another mms family.
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

// statusError is the reason for an answer other than 200 OK: "404 Not Found". The reason
// phrase is the standard one, never the server's own text.
func statusError(code int) error {
	if text := http.StatusText(code); text != "" {
		return fmt.Errorf("%d %s", code, text)
	}
	return fmt.Errorf("status %d", code)
}

// BytesLimit is the max_download_bytes limit (Options.MaxBytes) that what exceeded, as every
// source reports it.
func BytesLimit(limit int64, what string) error {
	return &errs.LimitError{Name: LimitMaxBytes, Limit: limit, Unit: "bytes", What: what}
}

func redirectsLimit(limit int) error {
	return &errs.LimitError{Name: LimitMaxRedirects, Limit: int64(limit), Unit: "redirects", What: "the redirect chain"}
}

// TimeoutLimit is the download_timeout limit (Options.Timeout), as every source reports it: in
// whole seconds, or in milliseconds when the configured value is not a whole number of seconds.
func TimeoutLimit(d time.Duration) error {
	le := &errs.LimitError{Name: LimitTimeout, What: "the download", Limit: int64(d / time.Second), Unit: "seconds"}
	if d%time.Second != 0 {
		le.Limit, le.Unit = d.Milliseconds(), "milliseconds"
	}
	return le
}
