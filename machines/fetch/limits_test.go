package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func TestLimits(t *testing.T) {
	t.Run("refuses an oversized Content-Length before reading the body", func(t *testing.T) {
		release := make(chan struct{})
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "2048")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			// no body until the test ends: a client that tried to read it would hang
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		f := newFetcher(t, func(o *Options) { o.MaxBytes = 1024 })
		var buf bytes.Buffer
		res, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &buf)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != LimitMaxBytes || le.Limit != 1024 || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want a max_download_bytes limit of 1024, got %v", err)
		}
		if buf.Len() != 0 || res.Bytes != 0 || res.Attempts != 1 {
			t.Errorf("read %d bytes after %d attempts; want none after 1", buf.Len(), res.Attempts)
		}
	})

	t.Run("stops reading a chunked body the moment it passes MaxBytes", func(t *testing.T) {
		const limit = 1 << 20    // 1 MiB
		const offered = 64 << 20 // 64 MiB
		written := make(chan int64, 1)
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte{'x'}, 32<<10)
			var n int64
			defer func() { written <- n }()
			for n < offered {
				k, err := w.Write(chunk)
				n += int64(k)
				if err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		})
		f := newFetcher(t, func(o *Options) { o.MaxBytes = limit })
		path := outPath(t)
		res, err := f.FetchToFile(context.Background(), Source{URL: srv.URL}, sum(testBody), path)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != LimitMaxBytes {
			t.Fatalf("want a max_download_bytes limit, got %v", err)
		}
		if res.Bytes != limit {
			t.Errorf("passed on %d bytes, want exactly the limit %d", res.Bytes, limit)
		}
		assertNoFile(t, path)
		select {
		case n := <-written:
			t.Logf("the server wrote %d bytes before the client hung up", n)
			if n >= offered/2 {
				t.Errorf("the server could write %d of %d bytes: the client kept reading", n, offered)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the server was still writing: the client did not hang up")
		}
	})

	t.Run("accepts a body of exactly MaxBytes", func(t *testing.T) {
		srv, _ := server(t, serve(testBody))
		f := newFetcher(t, func(o *Options) { o.MaxBytes = int64(len(testBody)) })
		if _, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("refuses a chunked body one byte over MaxBytes, passing on exactly MaxBytes", func(t *testing.T) {
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(testBody[:10])
			w.(http.Flusher).Flush() // no Content-Length: the body is chunked
			_, _ = w.Write(testBody[10:])
		})
		f := newFetcher(t, func(o *Options) { o.MaxBytes = int64(len(testBody)) - 1 })
		var buf bytes.Buffer
		_, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &buf)
		if !errors.Is(err, errs.ErrLimit) || int64(buf.Len()) != f.opts.MaxBytes {
			t.Fatalf("want a limit error after exactly %d bytes, got %v after %d", f.opts.MaxBytes, err, buf.Len())
		}
	})

	t.Run("stops a slow server at the timeout, naming the limit", func(t *testing.T) {
		release := make(chan struct{})
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(testBody)))
			_, _ = w.Write(testBody[:10])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		f := newFetcher(t, func(o *Options) { o.Timeout = 200 * time.Millisecond })
		path := outPath(t)
		_, err := f.FetchToFile(context.Background(), Source{URL: srv.URL}, sum(testBody), path)
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != LimitTimeout || le.Limit != 200 || le.Unit != "milliseconds" {
			t.Fatalf("want a download_timeout of 200 milliseconds, got %v", err)
		}
		assertNoFile(t, path)
	})

	t.Run("leaves no file when ctx is cancelled mid-download", func(t *testing.T) {
		release := make(chan struct{})
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(testBody)))
			_, _ = w.Write(testBody[:100])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		path := outPath(t)
		done := make(chan error, 1)
		go func() {
			_, err := newFetcher(t).FetchToFile(ctx, Source{URL: srv.URL}, sum(testBody), path)
			done <- err
		}()
		for deadline := time.Now().Add(20 * time.Second); ; {
			if st, err := os.Stat(path); err == nil && st.Size() == 100 {
				break // the first bytes are on disk: the download is under way
			}
			if time.Now().After(deadline) {
				t.Fatal("the download never started")
			}
			time.Sleep(time.Millisecond) // polling with a deadline
		}
		cancel()
		err := <-done
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errs.ErrFetch) || errors.Is(err, errs.ErrLimit) {
			t.Fatalf("want context.Canceled matching ErrFetch, got %v", err)
		}
		assertNoFile(t, path)
	})
}
