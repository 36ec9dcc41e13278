package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// failFirst answers the first n requests with status and the rest with body.
func failFirst(n int64, status int, body []byte) (http.HandlerFunc, func() int64) {
	var seen int64
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	return func(w http.ResponseWriter, r *http.Request) {
			<-ch
			seen++
			k := seen
			ch <- struct{}{}
			if k <= n {
				w.WriteHeader(status)
				return
			}
			_, _ = w.Write(body)
		}, func() int64 {
			<-ch
			defer func() { ch <- struct{}{} }()
			return seen
		}
}

func TestRetries(t *testing.T) {
	for _, status := range []int{500, 502, 503, 429} {
		t.Run("retries a "+strconv.Itoa(status)+" and succeeds on the next attempt", func(t *testing.T) {
			h, seen := failFirst(1, status, testBody)
			srv, _ := server(t, h)
			path := outPath(t)
			res, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: srv.URL}, sum(testBody), path)
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != 2 || seen() != 2 {
				t.Errorf("Attempts %d, server saw %d; want 2 and 2", res.Attempts, seen())
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, testBody) {
				t.Errorf("file holds %d bytes", len(got))
			}
		})
	}

	for _, status := range []int{400, 403, 404, 410} {
		t.Run("does not retry a "+strconv.Itoa(status), func(t *testing.T) {
			h, seen := failFirst(1, status, testBody)
			srv, _ := server(t, h)
			res, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
			if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), ": "+strconv.Itoa(status)+" ") {
				t.Fatalf("want the %d refused, got %v", status, err)
			}
			if res.Attempts != 1 || seen() != 1 {
				t.Errorf("Attempts %d, server saw %d; want 1 and 1", res.Attempts, seen())
			}
		})
	}

	t.Run("gives up after Retries and says how many attempts it made", func(t *testing.T) {
		h, seen := failFirst(100, http.StatusServiceUnavailable, testBody)
		srv, _ := server(t, h)
		res, err := newFetcher(t, func(o *Options) { o.Retries = 2 }).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if want := "GET " + srv.URL + ": 503 Service Unavailable (after 3 attempts)"; err == nil || err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
		if res.Attempts != 3 || seen() != 3 {
			t.Errorf("Attempts %d, server saw %d; want 3 and 3", res.Attempts, seen())
		}
	})

	t.Run("makes exactly one attempt when Retries is 0", func(t *testing.T) {
		h, seen := failFirst(100, http.StatusInternalServerError, testBody)
		srv, _ := server(t, h)
		_, err := newFetcher(t, func(o *Options) { o.Retries = 0 }).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if err == nil || seen() != 1 {
			t.Fatalf("want one failed attempt, got %v after %d", err, seen())
		}
	})

	t.Run("retries a connection dropped before the answer", func(t *testing.T) {
		var drops atomic.Int32
		srv, hits := server(t, func(w http.ResponseWriter, r *http.Request) {
			if drops.Add(1) == 1 {
				panic(http.ErrAbortHandler) // closes the connection without an answer
			}
			_, _ = w.Write(testBody)
		})
		res, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Attempts != 2 || hits.Load() != 2 {
			t.Errorf("Attempts %d, server saw %d; want 2 and 2", res.Attempts, hits.Load())
		}
	})

	t.Run("retries a connection refused", func(t *testing.T) {
		srv, _ := server(t, serve(testBody))
		u := srv.URL
		srv.Close()
		res, err := newFetcher(t).Fetch(context.Background(), Source{URL: u}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || res.Attempts != 3 {
			t.Fatalf("want 3 failed attempts matching ErrFetch, got %d: %v", res.Attempts, err)
		}
	})

	// brokenMidBody serves half the body and drops the connection the first time.
	brokenMidBody := func(t *testing.T) string {
		var broke atomic.Int32
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(testBody)))
			if broke.Add(1) == 1 {
				_, _ = w.Write(testBody[:len(testBody)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			_, _ = w.Write(testBody)
		})
		return srv.URL
	}

	t.Run("restarts a file broken mid-body from empty", func(t *testing.T) {
		u := brokenMidBody(t)
		path := outPath(t)
		res, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: u}, sum(testBody), path)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, testBody) || res.Attempts != 2 {
			t.Errorf("file holds %d bytes after %d attempts, want %d after 2", len(got), res.Attempts, len(testBody))
		}
	})

	t.Run("does not retry mid-body into a writer it cannot rewind", func(t *testing.T) {
		u := brokenMidBody(t)
		res, err := newFetcher(t).Fetch(context.Background(), Source{URL: u}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || res.Attempts != 1 {
			t.Fatalf("want one failed attempt, got %d: %v", res.Attempts, err)
		}
	})

	t.Run("stops waiting between retries the moment ctx is cancelled", func(t *testing.T) {
		failed := make(chan struct{}, 10)
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			failed <- struct{}{}
		})
		f := newFetcher(t, func(o *Options) { o.RetryBase = time.Hour; o.Timeout = 3 * time.Hour })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := f.Fetch(ctx, Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
			done <- err
		}()
		<-failed
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || !errors.Is(err, errs.ErrFetch) {
				t.Fatalf("want context.Canceled matching ErrFetch, got %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Fetch kept waiting after ctx was cancelled")
		}
	})

	t.Run("gives up at once when the next wait would outlast the timeout", func(t *testing.T) {
		srv, hits := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		// every wait is at least MaxRetryDelay/2 = 30s, longer than the 10s left
		f := newFetcher(t, func(o *Options) { o.RetryBase = time.Hour; o.Timeout = 10 * time.Second })
		_, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if err == nil || !strings.HasSuffix(err.Error(), "502 Bad Gateway") || hits.Load() != 1 {
			t.Fatalf("want the 502 reported after one attempt, got %v after %d", err, hits.Load())
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Run("draws each wait from the upper half of a doubling delay", func(t *testing.T) {
		base := 100 * time.Millisecond
		for attempt := 1; attempt <= 5; attempt++ {
			full := base << (attempt - 1)
			for range 200 {
				if d := backoff(base, attempt); d < full/2 || d > full {
					t.Fatalf("retry %d: wait %s outside [%s, %s]", attempt, d, full/2, full)
				}
			}
		}
	})

	t.Run("never waits longer than MaxRetryDelay, however many retries came before", func(t *testing.T) {
		for _, attempt := range []int{7, 30, 31, 32, 63, 64, 1000} {
			if d := backoff(time.Second, attempt); d > MaxRetryDelay || d < MaxRetryDelay/2 {
				t.Errorf("retry %d: wait %s outside [%s, %s]", attempt, d, MaxRetryDelay/2, MaxRetryDelay)
			}
		}
	})

	t.Run("gives a fleet of nodes different waits", func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for range 100 {
			seen[backoff(time.Second, 1)] = true
		}
		if len(seen) < 50 {
			t.Errorf("100 nodes drew only %d distinct waits", len(seen))
		}
	})
}
