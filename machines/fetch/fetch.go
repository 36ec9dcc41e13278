package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
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

// Fetch downloads src into w, hashing it on the way, and succeeds only when the body is
// complete, at most MaxBytes long, and hashes to wantSHA256 (64 hex characters; case does
// not matter). On error the caller must discard what w received.
//
// Transient failures are retried after a jittered, growing wait. A failure after part of the
// body reached w is retried only when w can be rewound (it has Seek and Truncate, as
// *os.File does); otherwise only failures before the first byte are. Checksum mismatches,
// limits, refused redirects, TLS verification failures and 4xx answers other than 429 are
// never retried. The whole call is bounded by Options.Timeout and ctx.
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

// attempt is one request's parameters; url carries no userinfo.
type attempt struct {
	url, user, pass string
	auth            bool
}

// once makes one request and streams a 200 body into w and h. It returns the body bytes
// that reached w, the status when it was not 200, the reason it failed and whether the
// failure is transient.
func (f *Fetcher) once(ctx context.Context, a attempt, w io.Writer, h hash.Hash, buf []byte) (n int64, status int, reason error, retry bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return 0, 0, errors.New("invalid URL: cannot build a request"), false
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	if a.auth {
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		reason, retry := transportFailure(err)
		return 0, 0, reason, retry
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code := resp.StatusCode
		reason := statusError(code)
		if resp.Request != nil && resp.Request.URL.String() != a.url {
			reason = fmt.Errorf("%w from %s", reason, resp.Request.URL.Redacted())
		}
		return 0, code, reason, code == http.StatusTooManyRequests || code >= 500
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return 0, 0, bytesLimit(f.opts.MaxBytes, fmt.Sprintf("the announced Content-Length of %d bytes", resp.ContentLength)), false
	}
	body := &capReader{r: resp.Body, left: f.opts.MaxBytes}
	n, err = io.CopyBuffer(io.MultiWriter(w, h), body, buf)
	switch {
	case body.over:
		return n, 0, bytesLimit(f.opts.MaxBytes, "the body"), false
	case err != nil && body.err != nil && errors.Is(err, body.err):
		return n, 0, fmt.Errorf("reading the body: %w", err), true
	case err != nil:
		return n, 0, fmt.Errorf("writing the body: %w", err), false
	}
	return n, 0, nil, false
}

// transportFailure turns an error from http.Client.Do into a reason without the URL (the
// client's *url.Error quotes it, and a redirect's Location may carry userinfo) and says
// whether it is worth retrying.
func transportFailure(err error) (error, bool) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var le *errs.LimitError
	switch {
	case errors.As(err, &le), isRedirectError(err):
		return err, false
	case isTLSVerification(err):
		return err, false
	}
	return err, true
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

// capReader reads at most left bytes from r; asked for more, it sets over and fails, having
// passed on no byte beyond the limit.
type capReader struct {
	r    io.Reader
	left int64
	over bool
	err  error
}

var errOverLimit = errors.New("body over the size limit")

func (c *capReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		n, c.left, c.over = int(c.left), 0, true
		return n, errOverLimit
	}
	c.left -= int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
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
