package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/sums"
)

// Attempt is what one try of a download did.
type Attempt struct {
	// Bytes is how much of the body reached the writer.
	Bytes int64
	// Status is the HTTP status of an answer other than 200 OK; 0 for none, and for sources
	// that are not HTTP.
	Status int
	// Reason is why the try failed; nil when the whole body arrived.
	Reason error
	// Retry says whether trying again may help (a transient failure).
	Retry bool
}

// Try is one try of a download from some source: it writes the body into w and h as it
// arrives, within ctx.
type Try func(ctx context.Context, w io.Writer, h hash.Hash) Attempt

// errDownloadTimeout is the cause of the context that bounds one download by Options.Timeout.
var errDownloadTimeout = errors.New("download timeout")

// rewinder is a writer a failed try can be undone on (an *os.File), so that a download
// broken mid-body can be retried from the start.
type rewinder interface {
	io.Seeker
	Truncate(size int64) error
}

// Run carries out one download of the source shown (its URL as errors show it) into w, by
// try, with the rules every source shares: the whole call is bounded by opts.Timeout and ctx;
// a transient failure is retried up to opts.Retries times after a jittered wait growing from
// opts.RetryBase, and one after part of the body reached w only when w can be rewound (it has
// Seek and Truncate, as *os.File does); the body must hash to want, the signed sha256 (64
// lower-case hex characters, see ParseChecksum). It returns an *Error naming shown on failure.
// The HTTP fetcher and the Object Store's are built on it.
func Run(ctx context.Context, opts Options, log *slog.Logger, shown, want string, w io.Writer, try Try) (Result, error) {
	start := time.Now()
	res := Result{}
	fail := func(status int, reason error) (Result, error) {
		res.Duration = time.Since(start)
		return res, &Error{URL: shown, StatusCode: status, Attempts: res.Attempts, Err: reason}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errDownloadTimeout)
	defer cancel()

	rw, canRewind := w.(rewinder)
	h := sha256.New()
	for {
		res.Attempts++
		h.Reset()
		a := try(ctx, w, h)
		res.Bytes = a.Bytes
		if a.Reason == nil {
			res.SHA256 = hex.EncodeToString(h.Sum(nil))
			if res.SHA256 != want {
				return fail(0, fmt.Errorf("%w: expected %s got %s", errs.ErrChecksum, want, res.SHA256))
			}
			res.Duration = time.Since(start)
			return res, nil
		}
		if ctx.Err() != nil {
			return fail(a.Status, interrupted(parent, ctx, opts.Timeout))
		}
		if !a.Retry || res.Attempts > opts.Retries {
			return fail(a.Status, a.Reason)
		}
		if a.Bytes > 0 {
			if !canRewind {
				return fail(a.Status, a.Reason)
			}
			if _, err := rw.Seek(0, io.SeekStart); err != nil {
				return fail(a.Status, fmt.Errorf("%w (and could not rewind the output to retry: %v)", a.Reason, err))
			}
			if err := rw.Truncate(0); err != nil {
				return fail(a.Status, fmt.Errorf("%w (and could not truncate the output to retry: %v)", a.Reason, err))
			}
		}
		delay := backoff(opts.RetryBase, res.Attempts)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// waiting would only end in a timeout: the last failure says more
			return fail(a.Status, a.Reason)
		}
		log.Warn("retrying download", "url", shown, "attempt", res.Attempts, "delay", delay, "error", a.Reason.Error())
		if err := sleep(ctx, delay); err != nil {
			return fail(a.Status, interrupted(parent, ctx, opts.Timeout))
		}
	}
}

// interrupted is the reason when ctx ended: the download_timeout limit when Options.Timeout
// expired, else the caller's cancellation (its cause).
func interrupted(parent, ctx context.Context, timeout time.Duration) error {
	if parent.Err() == nil && errors.Is(context.Cause(ctx), errDownloadTimeout) {
		return TimeoutLimit(timeout)
	}
	if cause := context.Cause(parent); cause != nil {
		return cause
	}
	return ctx.Err()
}

// ParseChecksum returns the expected sha256 of a download in lower case, refusing
// (errs.ErrInvalidSpec) anything but 64 hex characters.
func ParseChecksum(s string) (string, error) {
	want := strings.ToLower(s)
	if !sums.IsHex256(want) {
		return "", fmt.Errorf("%w: expected sha256 %q is not 64 hex characters", errs.ErrInvalidSpec, s)
	}
	return want, nil
}
