package kvspec

import (
	"context"
	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/internal/testwait"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// never is an interval long enough that no interval Get happens during a test, so whatever
// is delivered came through the watch.
const never = time.Hour

func TestWatcherDelivers(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.ClientURL())
	mustPut(t, js, "b", "other", "create the bucket")

	t.Run("delivers a put within a second through the watch alone", func(t *testing.T) {
		ch := watch(t, NewWatcher(js, "b", "put", fastOptions(never)))
		rev := mustPut(t, js, "b", "put", "v1")
		u := next(t, ch, time.Second)
		if string(u.Value) != "v1" || u.Revision != rev || u.Deleted || u.Created.IsZero() {
			t.Fatalf("got %+v, want v1 at revision %d", u, rev)
		}
	})

	t.Run("delivers the current value first", func(t *testing.T) {
		rev := mustPut(t, js, "b", "current", "already there")
		u := next(t, watch(t, NewWatcher(js, "b", "current", fastOptions(never))), waitFor)
		if string(u.Value) != "already there" || u.Revision != rev {
			t.Fatalf("got %+v", u)
		}
	})

	t.Run("delivers the latest of several puts with growing revisions and no repeats", func(t *testing.T) {
		ch := watch(t, NewWatcher(js, "b", "many", fastOptions(never)))
		var last uint64
		for i := range 20 {
			last = mustPut(t, js, "b", "many", string(rune('a'+i)))
		}
		var prev uint64
		for {
			u := next(t, ch, waitFor)
			if u.Revision <= prev {
				t.Fatalf("revision %d after %d", u.Revision, prev)
			}
			prev = u.Revision
			if u.Revision == last {
				if string(u.Value) != "t" {
					t.Fatalf("latest value %q, want t", u.Value)
				}
				return
			}
		}
	})

	t.Run("keeps only the latest update for a receiver that is not reading", func(t *testing.T) {
		ch := watch(t, NewWatcher(js, "b", "slow", fastOptions(never)))
		first := mustPut(t, js, "b", "slow", "one")
		if u := next(t, ch, waitFor); u.Revision != first {
			t.Fatalf("got revision %d, want %d", u.Revision, first)
		}
		mustPut(t, js, "b", "slow", "two")
		mustPut(t, js, "b", "slow", "three")
		last := mustPut(t, js, "b", "slow", "four")
		// Read until the last arrives; what comes before must be newer each time and at most
		// the two intermediate ones (never "one" again).
		for seen := 0; ; seen++ {
			u := next(t, ch, waitFor)
			if u.Revision == last {
				return
			}
			if seen >= 2 || u.Revision <= first {
				t.Fatalf("unexpected update %+v", u)
			}
		}
	})

	t.Run("delivers a deletion once and then the next value", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		kv, _ := js.KeyValue(ctx, "b")
		ch := watch(t, NewWatcher(js, "b", "del", fastOptions(never)))
		mustPut(t, js, "b", "del", "v1")
		next(t, ch, waitFor)
		if err := kv.Delete(ctx, "del"); err != nil {
			t.Fatal(err)
		}
		u := next(t, ch, waitFor)
		if !u.Deleted || u.Value != nil {
			t.Fatalf("want a deletion, got %+v", u)
		}
		if err := kv.Delete(ctx, "del"); err != nil { // a second marker of the same absence
			t.Fatal(err)
		}
		if err := kv.Purge(ctx, "del"); err != nil {
			t.Fatal(err)
		}
		rev := mustPut(t, js, "b", "del", "v2")
		if u := next(t, ch, waitFor); u.Deleted || u.Revision != rev {
			t.Fatalf("after one deletion want v2 at %d, got %+v", rev, u)
		}
	})

	t.Run("delivers a purge as a deletion", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		kv, _ := js.KeyValue(ctx, "b")
		ch := watch(t, NewWatcher(js, "b", "purge", fastOptions(never)))
		mustPut(t, js, "b", "purge", "v1")
		next(t, ch, waitFor)
		if err := kv.Purge(ctx, "purge"); err != nil {
			t.Fatal(err)
		}
		if u := next(t, ch, waitFor); !u.Deleted {
			t.Fatalf("want a deletion, got %+v", u)
		}
	})

	t.Run("ignores other keys of the bucket", func(t *testing.T) {
		ch := watch(t, NewWatcher(js, "b", "mine", fastOptions(never)))
		mustPut(t, js, "b", "mine.not", "no")
		mustPut(t, js, "b", "notmine", "no")
		rev := mustPut(t, js, "b", "mine", "yes")
		if u := next(t, ch, waitFor); u.Revision != rev {
			t.Fatalf("got %+v, want revision %d", u, rev)
		}
	})

	t.Run("sends no request while idle with a healthy watch", func(t *testing.T) {
		nc, ownJS := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "idle", "v1")
		ch := watch(t, NewWatcher(ownJS, "b", "idle", fastOptions(never)))
		next(t, ch, waitFor) // the watch is up and has delivered its initial value
		before := nc.Stats().OutMsgs
		mustPut(t, js, "b", "idle", "v2") // through the other connection
		next(t, ch, waitFor)
		if after := nc.Stats().OutMsgs; after != before {
			t.Fatalf("the watcher's connection sent %d messages while idle", after-before)
		}
	})

	t.Run("closes its channel and removes its consumer when the context ends", func(t *testing.T) {
		mustPut(t, js, "b", "end", "v1")
		base := consumers(t, js, "b")
		ctx, cancel := context.WithCancel(context.Background())
		ch := NewWatcher(js, "b", "end", fastOptions(never)).Run(ctx)
		next(t, ch, waitFor)
		if n := consumers(t, js, "b"); n != base+1 {
			t.Fatalf("%d consumers while watching, want %d", n, base+1)
		}
		cancel()
		for range ch {
		}
		testwait.Eventually(t, waitFor, "consumer removed", func() bool { return consumers(t, js, "b") == base })
	})
}

func TestWatcherRecovers(t *testing.T) {
	t.Run("picks up a bucket created after it started", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		ch := watch(t, NewWatcher(js, "late", "spec", fastOptions(never)))
		rev := mustPut(t, js, "late", "spec", "v1") // creates the bucket
		if u := next(t, ch, waitFor); string(u.Value) != "v1" || u.Revision != rev {
			t.Fatalf("got %+v", u)
		}
	})

	t.Run("resumes after the server restarts and delivers a put made after the restart", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "spec", "before")
		ch := watch(t, NewWatcher(js, "b", "spec", fastOptions(100*time.Millisecond)))
		if u := next(t, ch, waitFor); string(u.Value) != "before" {
			t.Fatalf("got %+v", u)
		}
		rev := restartAndPut(t, srv, js, "after")
		u := next(t, ch, 10*time.Second)
		if string(u.Value) != "after" || u.Revision != rev {
			t.Fatalf("got %+v, want after at %d", u, rev)
		}
		// The watch itself is back: only one consumer, and a later put arrives.
		testwait.Eventually(t, 10*time.Second, "one consumer", func() bool { return consumers(t, js, "b") == 1 })
		rev = mustPut(t, js, "b", "spec", "later")
		if u := next(t, ch, waitFor); u.Revision != rev {
			t.Fatalf("got %+v, want revision %d", u, rev)
		}
	})

	t.Run("re-creates the watch the moment the connection comes back, without waiting for the interval", func(t *testing.T) {
		srv := startServer(t)
		nc, js := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "spec", "before")
		opts := fastOptions(never)
		opts.Conn = nc
		ch := watch(t, NewWatcher(js, "b", "spec", opts))
		if u := next(t, ch, waitFor); string(u.Value) != "before" {
			t.Fatalf("got %+v", u)
		}
		rev := restartAndPut(t, srv, js, "after")
		if u := next(t, ch, waitFor); string(u.Value) != "after" || u.Revision != rev {
			t.Fatalf("got %+v, want after at %d", u, rev)
		}
	})

	t.Run("catches a change with the interval Get when the watch is stalled, then re-creates the watch", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "spec", "v1")
		w := NewWatcher(js, "b", "spec", fastOptions(50*time.Millisecond))
		// A stalled watch, honestly: a real watch that is healthy but on a key that never
		// changes, so it never reports our key. Only the first watch is stalled.
		var opened atomic.Int32
		w.watch = func(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyWatcher, error) {
			if opened.Add(1) == 1 {
				return kv.Watch(ctx, "silent")
			}
			return kv.Watch(ctx, key)
		}
		ch := watch(t, w)
		if u := next(t, ch, waitFor); string(u.Value) != "v1" {
			t.Fatalf("interval Get did not deliver the current value: %+v", u)
		}
		testwait.Eventually(t, waitFor, "the stalled watch is re-created", func() bool { return opened.Load() >= 2 })
		testwait.Eventually(t, waitFor, "the stalled watch's consumer is gone", func() bool { return consumers(t, js, "b") == 1 })
		rev := mustPut(t, js, "b", "spec", "v2")
		if u := next(t, ch, waitFor); u.Revision != rev {
			t.Fatalf("got %+v, want revision %d", u, rev)
		}
	})

	t.Run("re-creates a watch that could not be created, with backoff", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "spec", "v1")
		w := NewWatcher(js, "b", "spec", fastOptions(never))
		var opened atomic.Int32
		w.watch = func(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyWatcher, error) {
			if opened.Add(1) <= 3 {
				return nil, jetstream.ErrConsumerCreate
			}
			return kv.Watch(ctx, key)
		}
		if u := next(t, watch(t, w), waitFor); string(u.Value) != "v1" {
			t.Fatalf("got %+v", u)
		}
		if n := opened.Load(); n != 4 {
			t.Fatalf("%d attempts, want 4", n)
		}
		if n := consumers(t, js, "b"); n != 1 {
			t.Fatalf("%d consumers after failed attempts, want 1", n)
		}
	})

	t.Run("re-creates a watch whose channel closed", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		mustPut(t, js, "b", "spec", "v1")
		w := NewWatcher(js, "b", "spec", fastOptions(never))
		first := make(chan jetstream.KeyWatcher, 1)
		var opened atomic.Int32
		w.watch = func(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyWatcher, error) {
			kw, err := kv.Watch(ctx, key)
			if opened.Add(1) == 1 && err == nil {
				first <- kw
			}
			return kw, err
		}
		ch := watch(t, w)
		next(t, ch, waitFor)
		(<-first).Stop() // closes the first watch's channel under the Watcher
		testwait.Eventually(t, waitFor, "watch re-created", func() bool { return opened.Load() == 2 })
		rev := mustPut(t, js, "b", "spec", "v2")
		if u := next(t, ch, waitFor); u.Revision != rev {
			t.Fatalf("got %+v, want revision %d", u, rev)
		}
		if n := consumers(t, js, "b"); n != 1 {
			t.Fatalf("%d consumers, want 1", n)
		}
	})
}

func TestWatcherBucketLife(t *testing.T) {
	t.Run("starts over when the bucket is deleted and created again", func(t *testing.T) {
		srv := startServer(t)
		_, js := connect(t, srv.ClientURL())
		for i := range 5 {
			mustPut(t, js, "b", "spec", string(rune('a'+i)))
		}
		opts := fastOptions(50 * time.Millisecond)
		opts.RequestTimeout = 300 * time.Millisecond
		ch := watch(t, NewWatcher(js, "b", "spec", opts))
		if u := next(t, ch, waitFor); u.Revision != 5 {
			t.Fatalf("got %+v", u)
		}
		if err := js.DeleteKeyValue(testCtx(t, waitFor), "b"); err != nil {
			t.Fatal(err)
		}
		rev := mustPut(t, js, "b", "spec", "reborn")
		if rev != 1 {
			t.Fatalf("new bucket starts at revision %d", rev)
		}
		if u := next(t, ch, waitFor); string(u.Value) != "reborn" || u.Revision != 1 {
			t.Fatalf("got %+v, want reborn at revision 1", u)
		}
	})
}

// restartAndPut restarts srv on its port and store, then puts value at b/spec as soon as the
// server takes it, and returns the revision.
func restartAndPut(t *testing.T, srv *embednats.Server, js jetstream.JetStream, value string) uint64 {
	t.Helper()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	var rev uint64
	testwait.Eventually(t, 10*time.Second, "put after restart", func() bool {
		r, err := Put(testCtx(t, time.Second), js, "b", "spec", []byte(value), BucketConfig{})
		rev = r
		return err == nil
	})
	return rev
}
