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
	case errors.Is(err, jetstream.ErrStreamNotFound):
		r.log.Warn("bucket disappeared, waiting for it")
		r.stream = nil
		r.stopWatch()
		r.stopRetry()
		r.scheduleRetry()
		return
	case err != nil:
		r.log.Warn("cannot read key", "error", err)
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
