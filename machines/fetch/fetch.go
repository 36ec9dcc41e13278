package fetch

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strings"
	"time"
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
	shown := src.String()
	refuse := func(reason error) (Result, error) { return Result{}, &Error{URL: shown, Err: reason} }
	want, err := ParseChecksum(wantSHA256)
	if err != nil {
		return refuse(err)
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		if strings.Contains(src.URL, "@") {
			// the parser's message quotes part of the URL, which may be the password
			return refuse(errors.New("invalid URL: it does not parse"))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return refuse(fmt.Errorf("invalid URL: %w", err))
	}
	if !f.opts.schemeAllowed(u.Scheme) {
		return refuse(fmt.Errorf("scheme %q is not allowed (allowed: %s; add it with --allow-scheme)", u.Scheme, strings.Join(f.opts.AllowedSchemes, ", ")))
	}
	if u.Host == "" {
		return refuse(errors.New("invalid URL: it has no host"))
	}
	user, pass, auth := src.credentials(u)
	u.User = nil
	a := attempt{url: u.String(), user: user, pass: pass, auth: auth}
	buf := make([]byte, copyBufferSize)
	return Run(ctx, f.opts, f.log, shown, want, w, func(ctx context.Context, w io.Writer, h hash.Hash) Attempt {
		n, status, reason, retry := f.once(ctx, a, w, h, buf)
		return Attempt{Bytes: n, Status: status, Reason: reason, Retry: retry}
	})
}
