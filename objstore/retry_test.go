package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/objstore"
)

// retries is a log handler that says on a channel each time the Fetcher logs a retry.
type retries chan slog.Record

func (r retries) Enabled(context.Context, slog.Level) bool { return true }
func (r retries) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "retrying download" {
		select {
		case r <- rec:
		default:
		}
	}
	return nil
}
func (r retries) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r retries) WithGroup(string) slog.Handler      { return r }

func TestRetries(t *testing.T) {
	// a server without JetStream: every request finds no responders, a transient failure
	plain := testnats.StartWith(t, &server.Options{})
	_, noJS := testnats.Connect(t, plain.ClientURL())
	url := "obj://" + bucket + "/web.tgz"
	data := archive(1000)

	t.Run("retries no responders, then gives up after Retries and says how many attempts it made", func(t *testing.T) {
		logged := make(retries, 10)
		f, err := objstore.New(noJS, testOptions(), slog.New(logged))
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.HasPrefix(err.Error(), "GET "+url+": look up bucket") || !strings.HasSuffix(err.Error(), "(after 3 attempts)") {
			t.Fatalf("want 3 attempts matching ErrFetch, got %v", err)
		}
		if res.Attempts != 3 || len(logged) != 2 {
			t.Errorf("Attempts %d, %d retries logged; want 3 and 2", res.Attempts, len(logged))
		}
	})

	t.Run("makes exactly one attempt when Retries is 0", func(t *testing.T) {
		res, err := newFetcher(t, noJS, func(o *fetch.Options) { o.Retries = 0 }).Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &bytes.Buffer{})
		if err == nil || res.Attempts != 1 {
			t.Fatalf("want one failed attempt, got %d: %v", res.Attempts, err)
		}
	})

	t.Run("stops waiting between retries the moment ctx is cancelled", func(t *testing.T) {
		logged := make(retries, 10)
		o := testOptions(func(o *fetch.Options) { o.RetryBase, o.Timeout = time.Hour, 3*time.Hour })
		f, err := objstore.New(noJS, o, slog.New(logged))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := fetchAsync(ctx, f, url, sum(data), &bytes.Buffer{})
		within(t, logged, "the first retry's wait")
		cancel()
		got := within(t, done, "Fetch returning after the cancellation")
		if !errors.Is(got.err, context.Canceled) || !errors.Is(got.err, errs.ErrFetch) || got.res.Attempts != 1 {
			t.Fatalf("want context.Canceled matching ErrFetch after one attempt, got %d: %v", got.res.Attempts, got.err)
		}
	})

	t.Run("gives up at once when the next wait would outlast the timeout", func(t *testing.T) {
		// every wait is at least MaxRetryDelay/2 = 30s, longer than the 10s left
		f := newFetcher(t, noJS, func(o *fetch.Options) { o.RetryBase, o.Timeout = time.Hour, 10*time.Second })
		res, err := f.Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &bytes.Buffer{})
		if err == nil || errors.Is(err, errs.ErrLimit) || res.Attempts != 1 || res.Duration > 5*time.Second {
			t.Fatalf("want the failure reported after one attempt, got %d in %s: %v", res.Attempts, res.Duration, err)
		}
	})

	t.Run("does not retry over a closed connection, which never reopens", func(t *testing.T) {
		e := start(t)
		u := e.publish(t, "web.tgz", data)
		e.nc.Close()
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: u}, sum(data), &bytes.Buffer{})
		if !errors.Is(err, nats.ErrConnectionClosed) || !errors.Is(err, errs.ErrFetch) || res.Attempts != 1 {
			t.Fatalf("want one attempt failing with ErrConnectionClosed, got %d: %v", res.Attempts, err)
		}
	})
}

// TestRestartMidStream restarts the server while a download is under way: the connection is
// lost mid-stream, as an HTTP body can break.
func TestRestartMidStream(t *testing.T) {
	data := archive(4 << 20) // many reads: the stream is surely not over when the first one is held
	// restart holds w at its first Write, restarts the server and lets w go on once the
	// client has reconnected.
	restart := func(t *testing.T, e *env, g *gate) {
		t.Helper()
		reconnected := e.nc.StatusChanged(nats.CONNECTED)
		defer e.nc.RemoveStatusListener(reconnected)
		within(t, g.began, "the first bytes")
		if err := e.srv.Restart(); err != nil {
			t.Fatal(err)
		}
		within(t, reconnected, "the client reconnecting")
		close(g.release)
	}

	t.Run("starts a file again from empty and succeeds", func(t *testing.T) {
		e := start(t)
		url := e.publish(t, "web.tgz", data)
		w := newGatedFile(t)
		done := fetchAsync(context.Background(), newFetcher(t, e.js), url, sum(data), w)
		restart(t, e, w.gate)
		got := within(t, done, "Fetch")
		if got.err != nil {
			t.Fatal(got.err)
		}
		if got.res.Attempts != 2 || w.truncated != 1 || !bytes.Equal(w.content(t), data) {
			t.Errorf("%d attempts, %d truncations, the file right: %v; want 2, 1, true", got.res.Attempts, w.truncated, bytes.Equal(w.content(t), data))
		}
	})

	t.Run("does not retry mid-stream into a writer it cannot rewind", func(t *testing.T) {
		e := start(t)
		url := e.publish(t, "web.tgz", data)
		w := &gatedBuffer{gate: newGate()}
		done := fetchAsync(context.Background(), newFetcher(t, e.js), url, sum(data), w)
		restart(t, e, w.gate)
		got := within(t, done, "Fetch")
		if !errors.Is(got.err, errs.ErrFetch) || !strings.Contains(got.err.Error(), "lost the connection to the NATS server") || got.res.Attempts != 1 {
			t.Fatalf("want one attempt failing for the lost connection, got %d: %v", got.res.Attempts, got.err)
		}
	})
}
