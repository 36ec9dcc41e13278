package kvspec

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// run is the state of one Watcher.Run loop; only its goroutine touches it.
type run struct {
	w   *Watcher
	out chan<- Update
	log *slog.Logger

	last        uint64  // highest revision accepted for delivery
	lastDeleted bool    // whether that revision was a deletion
	pending     *Update // accepted, not yet received

	stream       jetstream.Stream // the bucket's stream, nil while the bucket is unknown
	streamBorn   time.Time        // creation time of the stream, to notice a re-created bucket
	kw           jetstream.KeyWatcher
	updates      <-chan jetstream.KeyValueEntry
	cancelWatch  context.CancelFunc
	watchSeen    uint64 // highest revision the current watch delivered
	suspect      uint64 // revision a Get found that the watch had not delivered
	attempt      int    // failed attempts since the last healthy watch
	retry        *time.Timer
	everWatching bool
}

func (r *run) loop(ctx context.Context) {
	defer close(r.out)
	defer r.stopWatch()
	defer r.stopRetry()

	r.open(ctx)
	tick := time.NewTicker(r.w.opts.Interval)
	defer tick.Stop()
	// The status channel is left registered when Run ends: nats.go sends without blocking and
	// drops closed channels itself, and closing it here could race with a send.
	var reconnected <-chan nats.Status
	if r.w.opts.Conn != nil {
		reconnected = r.w.opts.Conn.StatusChanged(nats.CONNECTED)
	}
	for {
		var send chan<- Update
		var next Update
		if r.pending != nil {
			send, next = r.out, *r.pending
		}
		var retry <-chan time.Time
		if r.retry != nil {
			retry = r.retry.C
		}
		select {
		case <-ctx.Done():
			return
		case send <- next:
			r.pending = nil
		case e, ok := <-r.updates:
			r.fromWatch(ctx, e, ok)
		case <-retry:
			r.retry = nil
			r.open(ctx)
		case <-tick.C:
			r.check(ctx)
		case <-reconnected:
			r.log.Info("connection re-established, re-creating the watch")
			r.attempt = 0
			r.open(ctx)
			r.check(ctx)
		}
	}
}

// fromWatch handles one item from the watch channel.
func (r *run) fromWatch(ctx context.Context, e jetstream.KeyValueEntry, ok bool) {
	switch {
	case !ok:
		r.log.Warn("watch closed, re-creating it")
		r.stopWatch()
		r.scheduleRetry()
	case e == nil: // initial values delivered: the watch is healthy
		r.attempt = 0
	case e.Key() == r.w.key:
		r.watchSeen = max(r.watchSeen, e.Revision())
		del := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
		r.offer(Update{Value: e.Value(), Revision: e.Revision(), Deleted: del, Created: e.Created()})
	}
}

// offer accepts u for delivery when it is newer than anything accepted before.
func (r *run) offer(u Update) {
	if u.Revision <= r.last {
		return
	}
	if u.Deleted {
		u.Value = nil
		if r.lastDeleted {
			r.last = u.Revision // a further marker of the same absence
			return
		}
	}
	r.last, r.lastDeleted = u.Revision, u.Deleted
	r.pending = &u
}

// open looks the bucket up and creates a watch, stopping any previous one first.
func (r *run) open(ctx context.Context) {
	r.stopWatch()
	r.stopRetry()
	if ctx.Err() != nil {
		return
	}
	o := r.w.opts
	rctx, cancel := context.WithTimeout(ctx, o.RequestTimeout)
	kv, err := r.w.js.KeyValue(rctx, r.w.bucket)
	var stream jetstream.Stream
	if err == nil {
		stream, err = r.w.js.Stream(rctx, "KV_"+r.w.bucket)
	}
	cancel()
	if err != nil {
		r.stream = nil
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			r.log.Debug("bucket not found, waiting for it")
		} else {
			r.log.Warn("cannot open bucket", "error", err)
		}
		r.scheduleRetry()
		return
	}
	r.adoptStream(stream)

	// The watch lives as long as wctx; a watchdog cancels it if creation takes too long.
	wctx, wcancel := context.WithCancel(ctx)
	watchdog := time.AfterFunc(o.RequestTimeout, wcancel)
	kw, err := r.w.watch(wctx, kv, r.w.key)
	if !watchdog.Stop() && err == nil {
		err = context.DeadlineExceeded
	}
	if err != nil {
		if kw != nil {
			_ = kw.Stop()
		}
		wcancel()
		r.log.Warn("cannot create watch", "error", err)
		r.scheduleRetry()
		return
	}
	if r.everWatching {
		r.log.Info("watch re-created")
	}
	r.everWatching = true
	r.kw, r.updates, r.cancelWatch = kw, kw.Updates(), wcancel
	r.watchSeen, r.suspect = 0, 0
}

// adoptStream keeps the bucket's stream and notices when the bucket was created again.
func (r *run) adoptStream(s jetstream.Stream) {
	born := s.CachedInfo().Created
	if !r.streamBorn.IsZero() && !born.Equal(r.streamBorn) {
		r.log.Warn("bucket was created again, revisions start over")
		r.last, r.lastDeleted, r.pending = 0, false, nil
	}
	r.stream, r.streamBorn = s, born
}

// stopWatch stops the current watch, if any, and drains its channel so that the client's
// delivery goroutine can finish.
func (r *run) stopWatch() {
	if r.kw == nil {
		return
	}
	_ = r.kw.Stop()
	r.cancelWatch()
	go func(ch <-chan jetstream.KeyValueEntry) {
		for range ch {
		}
	}(r.updates)
	r.kw, r.updates, r.cancelWatch = nil, nil, nil
}

// scheduleRetry arms the retry timer with the next backoff.
func (r *run) scheduleRetry() {
	r.stopRetry()
	d := backoff(r.attempt, r.w.opts.MinBackoff, r.w.opts.MaxBackoff)
	r.attempt++
	r.log.Debug("retrying watch", "after", d)
	r.retry = time.NewTimer(d)
}

func (r *run) stopRetry() {
	if r.retry != nil {
		r.retry.Stop()
		r.retry = nil
	}
}
