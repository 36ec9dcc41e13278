package objstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
)

// Fetcher reads archives from the Object Store over the JetStream connection the host gives.
// It is the obj:// source of machines.Config.Sources (it has machines.Fetcher's method set)
// and is safe for concurrent use.
type Fetcher struct {
	js   jetstream.JetStream
	opts fetch.Options
	log  *slog.Logger
}

// New returns a Fetcher reading over js with the limits of opts that apply to the Object
// Store: MaxBytes, Timeout, Retries and RetryBase as for HTTP, and ConnectTimeout, which
// bounds each request to the server (the object's info, opening its stream) as it bounds
// reaching an HTTP server. Those are checked as fetch.Options.Validate checks them (wrapping
// fetch.ErrInvalidOptions); the HTTP-only settings are ignored. A nil log discards.
func New(js jetstream.JetStream, opts fetch.Options, log *slog.Logger) (*Fetcher, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: no JetStream connection for the Object Store", fetch.ErrInvalidOptions)
	}
	if err := opts.ValidateDownload(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fetcher{js: js, opts: opts, log: log}, nil
}

// Fetch reads the object src.URL names (obj://BUCKET/NAME) into w, hashing it on the way, and
// succeeds only when it is complete, at most MaxBytes long, and hashes to wantSHA256 (64 hex
// characters; case does not matter). On error the caller must discard what w received.
//
// The object's info is read first. A missing bucket (ErrNoBucket), a missing or deleted object
// (ErrNoObject) and a refused access (ErrDenied) fail at once, matching errs.ErrFetch. An info
// whose digest is not wantSHA256 is refused (errs.ErrChecksum) and one whose size is over
// MaxBytes too (*errs.LimitError max_download_bytes), both before a byte is read; the content
// is then hashed as it streams and refused unless it hashes to wantSHA256, whatever the
// store's digest said, and also when nats.go finds it does not match the store's digest.
//
// Transient failures (no answer from the server within ConnectTimeout, no responders,
// JetStream unavailable, the connection lost mid-stream) are retried after a jittered,
// growing wait; after part of the object reached w, only when w can be rewound (it has Seek
// and Truncate, as *os.File does). The whole call is bounded by Options.Timeout (*errs.LimitError
// download_timeout) and ctx (its cause is returned). When w is a fetch.SizeTaker it learns the
// object's size.
//
// After a stalled or lost stream, the goroutine blocked in nats.go's Read may outlive the
// attempt, until that Read ends (at the latest at the download's deadline): one goroutine and
// its 256 KiB buffer per such attempt. It never writes to w.
func (f *Fetcher) Fetch(ctx context.Context, src fetch.Source, wantSHA256 string, w io.Writer) (fetch.Result, error) {
	shown := src.String()
	refuse := func(reason error) (fetch.Result, error) { return fetch.Result{}, &fetch.Error{URL: shown, Err: reason} }
	ref, err := ParseURL(src.URL)
	if err != nil {
		return refuse(err)
	}
	shown = ref.String()
	if src.Username != "" || src.Password != "" {
		return refuse(fmt.Errorf("%w: an obj:// source takes no username or password: the NATS connection's credentials apply", errs.ErrInvalidSpec))
	}
	want, err := fetch.ParseChecksum(wantSHA256)
	if err != nil {
		return refuse(err)
	}
	return fetch.Run(ctx, f.opts, f.log, shown, want, w, func(ctx context.Context, w io.Writer, h hash.Hash) fetch.Attempt {
		out := f.once(ctx, ref, want, w, h)
		if out.reason == nil && out.storeMismatch && hex.EncodeToString(h.Sum(nil)) == want {
			// ours matched (when it did not, Run reports our mismatch first): nats.go's
			// check of the store's digest failed, which counts too
			return fetch.Attempt{Bytes: out.n, Reason: fmt.Errorf("%w: the content hashes to the expected %s, yet nats.go finds it does not match the Object Store's digest (%v)",
				errs.ErrChecksum, want, jetstream.ErrDigestMismatch)}
		}
		return fetch.Attempt{Bytes: out.n, Reason: out.reason, Retry: out.retry}
	})
}

// outcome is what one attempt did.
type outcome struct {
	// n is how many bytes of the object reached w.
	n int64
	// reason is why the attempt failed; nil when the stream ended.
	reason error
	// retry says whether the failure is transient.
	retry bool
	// storeMismatch means the stream ended but nats.go found it did not match the store's
	// digest.
	storeMismatch bool
}

// once makes one attempt: look the object up, refuse what its info already shows is wrong,
// then stream it into w and h.
func (f *Fetcher) once(ctx context.Context, ref Ref, want string, w io.Writer, h hash.Hash) outcome {
	rctx, cancel := context.WithTimeout(ctx, f.opts.ConnectTimeout)
	obs, info, retry, err := lookup(rctx, f.js, ref)
	cancel()
	if err != nil {
		return outcome{reason: err, retry: retry}
	}
	if err := f.admit(info, want); err != nil {
		return outcome{reason: err}
	}
	return f.stream(ctx, obs, ref, want, w, h)
}

// admit refuses an object whose info shows it is not the archive want names or is larger than
// MaxBytes.
func (f *Fetcher) admit(info *jetstream.ObjectInfo, want string) error {
	if err := checkInfo(info, want); err != nil {
		return err
	}
	if info.Size > uint64(f.opts.MaxBytes) {
		return fetch.BytesLimit(f.opts.MaxBytes, fmt.Sprintf("the object's size of %d bytes", info.Size))
	}
	return nil
}
