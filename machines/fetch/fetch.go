package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// copyBufferSize is the buffer one attempt streams the body through.
const copyBufferSize = 256 << 10 // 256 KiB

// Result describes a download.
type Result struct {
	// Bytes is the size of the body received by the last attempt.
	Bytes int64
	// SHA256 is the hex sha256 of that body; set on success and on a checksum mismatch.
	SHA256 string
	// Duration is the time the whole call took, retries included.
	Duration time.Duration
	// Attempts is how many requests were made.
	Attempts int
}

// errDownloadTimeout is the cause of the context that bounds one Fetch by Options.Timeout.
var errDownloadTimeout = errors.New("download timeout")

// rewinder is a writer a failed attempt can be undone on (an *os.File), so that a download
// broken mid-body can be retried from the start.
type rewinder interface {
	io.Seeker
	Truncate(size int64) error
}

// SizeTaker is what a Fetch writer may also be, to learn how long the body will be before it
// arrives (for a progress bar): Fetch calls ExpectSize with the announced Content-Length of
// each attempt that answers 200 and announces one.
type SizeTaker interface {
	ExpectSize(n int64)
}

// Fetch downloads src into w, hashing it on the way, and succeeds only when the body is
// complete, at most MaxBytes long, and hashes to wantSHA256 (64 hex characters; case does
// not matter). On error the caller must discard what w received.
//
// Transient failures are retried after a jittered, growing wait. A failure after part of the
// body reached w is retried only when w can be rewound (it has Seek and Truncate, as
// *os.File does); otherwise only failures before the first byte are. Checksum mismatches,
// limits, refused redirects, TLS verification failures and 4xx answers other than 429 are
// never retried. The whole call is bounded by Options.Timeout and ctx. When w is a SizeTaker
// it learns the announced length of the body.
func (f *Fetcher) Fetch(ctx context.Context, src Source, wantSHA256 string, w io.Writer) (Result, error) {
	start := time.Now()
	res := Result{}
	shown := src.String()
	fail := func(status int, reason error) (Result, error) {
		res.Duration = time.Since(start)
		return res, &Error{URL: shown, StatusCode: status, Attempts: res.Attempts, Err: reason}
	}

	want := strings.ToLower(wantSHA256)
	if !isSHA256Hex(want) {
		return fail(0, fmt.Errorf("%w: expected sha256 %q is not 64 hex characters", errs.ErrInvalidSpec, wantSHA256))
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		if strings.Contains(src.URL, "@") {
			// the parser's message quotes part of the URL, which may be the password
			return fail(0, errors.New("invalid URL: it does not parse"))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(0, fmt.Errorf("invalid URL: %w", err))
	}
	if !f.opts.schemeAllowed(u.Scheme) {
		return fail(0, fmt.Errorf("scheme %q is not allowed (allowed: %s; add it with --allow-scheme)", u.Scheme, strings.Join(f.opts.AllowedSchemes, ", ")))
	}
	if u.Host == "" {
		return fail(0, errors.New("invalid URL: it has no host"))
	}
	user, pass, auth := src.credentials(u)
	u.User = nil

	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, f.opts.Timeout, errDownloadTimeout)
	defer cancel()

	rw, canRewind := w.(rewinder)
	h := sha256.New()
	buf := make([]byte, copyBufferSize)
	for {
		res.Attempts++
		h.Reset()
		a := attempt{url: u.String(), user: user, pass: pass, auth: auth}
		n, status, reason, retry := f.once(ctx, a, w, h, buf)
		res.Bytes = n
		if reason == nil {
			res.SHA256 = hex.EncodeToString(h.Sum(nil))
			if res.SHA256 != want {
				return fail(0, fmt.Errorf("%w: expected %s got %s", errs.ErrChecksum, want, res.SHA256))
			}
			res.Duration = time.Since(start)
			return res, nil
		}
		if ctx.Err() != nil {
			return fail(status, interrupted(parent, ctx, f.opts.Timeout))
		}
		if !retry || res.Attempts > f.opts.Retries {
			return fail(status, reason)
		}
		if n > 0 {
			if !canRewind {
				return fail(status, reason)
			}
			if _, err := rw.Seek(0, io.SeekStart); err != nil {
				return fail(status, fmt.Errorf("%w (and could not rewind the output to retry: %v)", reason, err))
			}
			if err := rw.Truncate(0); err != nil {
				return fail(status, fmt.Errorf("%w (and could not truncate the output to retry: %v)", reason, err))
			}
		}
		delay := backoff(f.opts.RetryBase, res.Attempts)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			// waiting would only end in a timeout: the last failure says more
			return fail(status, reason)
		}
		f.log.Warn("retrying download", "url", shown, "attempt", res.Attempts, "delay", delay, "error", reason.Error())
		if err := sleep(ctx, delay); err != nil {
			return fail(status, interrupted(parent, ctx, f.opts.Timeout))
		}
	}
}

// interrupted is the reason when ctx ended: the download_timeout limit when Options.Timeout
// expired, else the caller's cancellation.
func interrupted(parent, ctx context.Context, timeout time.Duration) error {
	if parent.Err() == nil && errors.Is(context.Cause(ctx), errDownloadTimeout) {
		return timeoutLimit(timeout)
	}
	if cause := context.Cause(parent); cause != nil {
		return cause
	}
	return ctx.Err()
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
