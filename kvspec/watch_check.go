package kvspec

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// kvOperationHeader and its values mark deletions in a Key-Value stream, as nats.go writes them.
const (
	kvOperationHeader = "KV-Operation"
	kvOperationDelete = "DEL"
	kvOperationPurge  = "PURGE"
)

// check reads the key directly: the key is the truth, the watch a hint. It delivers a
// revision the watch missed, and re-creates the watch when it still has not delivered a
// revision found by the previous check.
func (r *run) check(ctx context.Context) {
	if r.stream == nil {
		return // the bucket is not known yet: the retry timer is looking for it
	}
	rctx, cancel := context.WithTimeout(ctx, r.w.opts.RequestTimeout)
	msg, err := r.stream.GetLastMsgForSubject(rctx, "$KV."+r.w.bucket+"."+r.w.key)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return // the key was never written (or its markers were purged): nothing to say
	case err != nil:
		r.log.Warn("cannot read key", "error", err)
		if errors.Is(err, jetstream.ErrStreamNotFound) || r.bucketGone(ctx) {
			r.log.Warn("bucket disappeared, waiting for it")
			r.stream = nil
			r.stopWatch()
			r.scheduleRetry()
		}
		return
	}

	if msg.Sequence < r.last {
		// Revisions only grow within one life of a bucket: look at the bucket again, which
		// notices a bucket created anew and starts over.
		r.log.Info("revision went backwards, opening the bucket again", "revision", msg.Sequence, "last", r.last)
		r.open(ctx)
		return
	}
	if r.kw != nil && r.suspect != 0 && r.watchSeen < r.suspect {
		r.log.Warn("watch stalled, re-creating it", "revision", r.suspect, "watch_revision", r.watchSeen)
		r.open(ctx)
	} else if r.kw != nil && msg.Sequence > r.watchSeen {
		r.suspect = msg.Sequence // give the watch one interval to catch up
	} else {
		r.suspect = 0
	}

	op := msg.Header.Get(kvOperationHeader)
	r.offer(Update{
		Value:    msg.Data,
		Revision: msg.Sequence,
		Deleted:  op == kvOperationDelete || op == kvOperationPurge,
		Created:  msg.Time,
	})
}

// bucketGone asks the server whether the bucket's stream still exists, after a failed read: a
// read of a deleted bucket times out rather than failing. A connection problem is not a gone
// bucket; the watch is then left alone for nats.go to resume.
func (r *run) bucketGone(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, r.w.opts.RequestTimeout)
	defer cancel()
	_, err := r.w.js.Stream(rctx, "KV_"+r.w.bucket)
	return errors.Is(err, jetstream.ErrStreamNotFound)
}
