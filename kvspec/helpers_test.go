package kvspec

import (
	"context"
	"testing"
	"time"

	"github.com/mms-io/mms/embednats"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// waitFor is how long a test waits for something that should happen "at once".
const waitFor = 5 * time.Second

func startServer(t *testing.T) *embednats.Server { return startServerB(t) }

func startServerB(t testing.TB) *embednats.Server {
	t.Helper()
	srv, err := embednats.Start(embednats.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// connect opens a connection that reconnects quickly, as tests restart servers.
func connect(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) { return connectB(t, url) }

func connectB(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, err := Connect(ctx, url, "", nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next update, failing the test after d.
func next(t *testing.T, ch <-chan Update, d time.Duration) Update {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("update channel closed")
		}
		return u
	case <-time.After(d):
		t.Fatalf("no update within %s", d)
	}
	return Update{}
}

// fastOptions watch with short timers so that tests run quickly; interval is chosen per test.
func fastOptions(interval time.Duration) WatchOptions {
	return WatchOptions{Interval: interval, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RequestTimeout: 2 * time.Second}
}

// watch starts a Watcher and stops it at the end of the test.
func watch(t *testing.T, w *Watcher) <-chan Update {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := w.Run(ctx)
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	return ch
}

func mustPut(t *testing.T, js jetstream.JetStream, bucket, key, value string) uint64 {
	t.Helper()
	rev, err := Put(testCtx(t, waitFor), js, bucket, key, []byte(value), BucketConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// consumers counts the consumers on a bucket's stream.
func consumers(t *testing.T, js jetstream.JetStream, bucket string) int {
	t.Helper()
	s, err := js.Stream(testCtx(t, waitFor), "KV_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Consumers
}
