package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
)

func TestLimits(t *testing.T) {
	e := start(t)

	t.Run("refuses an object whose info is over MaxBytes before reading a byte", func(t *testing.T) {
		data := archive(2048)
		url := e.publish(t, "big.tgz", data)
		var w recorder
		res, err := newFetcher(t, e.js, func(o *fetch.Options) { o.MaxBytes = 1024 }).Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &w)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != fetch.LimitMaxBytes || le.Limit != 1024 || le.Unit != "bytes" || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want a max_download_bytes limit of 1024 bytes, not ErrFetch; got %v", err)
		}
		if want := "GET " + url + ": limit exceeded: the object's size of 2048 bytes exceeds the max_download_bytes limit of 1024 bytes"; err.Error() != want {
			t.Errorf("error %q\nwant  %q", err, want)
		}
		if w.Len() != 0 || res.Bytes != 0 || res.Attempts != 1 || len(w.told()) != 0 {
			t.Errorf("wrote %d bytes and told sizes %v after %d attempts; want nothing after 1", w.Len(), w.told(), res.Attempts)
		}
	})

	t.Run("accepts an object of exactly MaxBytes", func(t *testing.T) {
		data := archive(4096)
		url := e.publish(t, "exact.tgz", data)
		f := newFetcher(t, e.js, func(o *fetch.Options) { o.MaxBytes = int64(len(data)) })
		if _, err := f.Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cuts a stream that passes MaxBytes, passing on exactly MaxBytes", func(t *testing.T) {
		// the info says 1000 bytes, the stream delivers 1 MiB: only the stream can tell
		const limit = 64 << 10
		data := archive(1 << 20)
		url := e.publish(t, "lies-about-size.tgz", data)
		e.forge(t, "lies-about-size.tgz", func(i *jetstream.ObjectInfo) { i.Size = 1000 })
		w := recorder{}
		res, err := newFetcher(t, e.js, func(o *fetch.Options) { o.MaxBytes = limit }).Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &w)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != fetch.LimitMaxBytes || le.Limit != limit || le.What != "the object's content" {
			t.Fatalf("want the content over max_download_bytes, got %v", err)
		}
		if w.Len() != limit || res.Bytes != limit || res.Attempts != 1 {
			t.Errorf("passed on %d bytes (result %d) after %d attempts; want exactly %d after 1", w.Len(), res.Bytes, res.Attempts, limit)
		}
		if got := w.told(); len(got) != 1 || got[0] != 1000 {
			t.Errorf("ExpectSize was told %v, want the info's [1000]", got)
		}
	})

	// stalled is an object whose info promises content that never comes: its chunks are on a
	// subject nothing was published to, so the stream opens and then waits forever.
	data := archive(5000)
	stalled := e.publish(t, "stalled.tgz", data)
	e.forge(t, "stalled.tgz", func(i *jetstream.ObjectInfo) { i.NUID = "nothing-was-published-here" })

	t.Run("stops a stalled stream at the timeout, naming the limit", func(t *testing.T) {
		f := newFetcher(t, e.js, func(o *fetch.Options) { o.Timeout = 300 * time.Millisecond })
		var w recorder
		res, err := f.Fetch(context.Background(), fetch.Source{URL: stalled}, sum(data), &w)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != fetch.LimitTimeout || le.Limit != 300 || le.Unit != "milliseconds" || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want a download_timeout of 300 milliseconds, got %v", err)
		}
		if w.Len() != 0 || res.Attempts != 1 {
			t.Errorf("wrote %d bytes after %d attempts", w.Len(), res.Attempts)
		}
	})

	t.Run("names the timeout in seconds when it is whole", func(t *testing.T) {
		f := newFetcher(t, e.js, func(o *fetch.Options) { o.Timeout = time.Second })
		_, err := f.Fetch(context.Background(), fetch.Source{URL: stalled}, sum(data), &bytes.Buffer{})
		if want := "GET " + stalled + ": limit exceeded: the download exceeds the download_timeout limit of 1 seconds"; err == nil || err.Error() != want {
			t.Fatalf("error %v\nwant  %s", err, want)
		}
	})

	t.Run("returns the caller's cause at once when it cancels a stalled stream", func(t *testing.T) {
		// an hour's timeout: only the cancellation can end this
		f := newFetcher(t, e.js, func(o *fetch.Options) { o.Timeout = time.Hour })
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		w := &recorder{sized: make(chan struct{})}
		done := fetchAsync(ctx, f, stalled, sum(data), w)
		within(t, w.sized, "the stream opening")
		cause := fmt.Errorf("the node is shutting down")
		cancel(cause)
		got := within(t, done, "Fetch returning after the cancellation")
		if !errors.Is(got.err, cause) || !errors.Is(got.err, errs.ErrFetch) || errors.Is(got.err, errs.ErrLimit) {
			t.Fatalf("want the cause, matching ErrFetch, got %v", got.err)
		}
	})

	t.Run("returns context.Canceled when the caller cancels mid-stream", func(t *testing.T) {
		big := archive(4 << 20)
		url := e.publish(t, "cancelled.tgz", big)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w := &gatedBuffer{gate: newGate()}
		done := fetchAsync(ctx, newFetcher(t, e.js), url, sum(big), w)
		within(t, w.began, "the first bytes")
		cancel()
		close(w.release)
		got := within(t, done, "Fetch returning after the cancellation")
		if !errors.Is(got.err, context.Canceled) || !errors.Is(got.err, errs.ErrFetch) || errors.Is(got.err, errs.ErrLimit) {
			t.Fatalf("want context.Canceled matching ErrFetch, got %v", got.err)
		}
		if got.res.Attempts != 1 || w.buf.Len() >= len(big) {
			t.Errorf("wrote %d of %d bytes after %d attempts", w.buf.Len(), len(big), got.res.Attempts)
		}
	})
}
