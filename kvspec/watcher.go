package kvspec

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Update is a new revision of the watched key.
type Update struct {
	// Value is the stored bytes; nil when Deleted.
	Value []byte
	// Revision is the bucket-wide sequence number of this revision; it only grows.
	Revision uint64
	// Deleted is true when the key was deleted or purged. mms never purges machines on it:
	// a missing specification is not an empty one.
	Deleted bool
	// Created is when the server stored this revision.
	Created time.Time
}

// Watcher follows one key of one bucket. Create it with NewWatcher and start it with Run.
type Watcher struct {
	js     jetstream.JetStream
	bucket string
	key    string
	opts   WatchOptions

	// watch creates the KV watch; tests replace it to simulate a watch that stalls.
	watch func(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyWatcher, error)
}

// NewWatcher returns a Watcher of key in bucket over js. The bucket need not exist yet.
func NewWatcher(js jetstream.JetStream, bucket, key string, opts WatchOptions) *Watcher {
	return &Watcher{
		js:     js,
		bucket: bucket,
		key:    key,
		opts:   opts.withDefaults(),
		watch: func(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyWatcher, error) {
			return kv.Watch(ctx, key)
		},
	}
}

// Run follows the key until ctx is done, then closes the returned channel. It delivers the
// current value first (when the key exists), then every later revision, with these promises:
//
//   - never the same revision twice, never an older revision after a newer one;
//   - the latest revision wins: while the receiver is busy, older undelivered updates are
//     replaced by newer ones, so a slow receiver never blocks the watch;
//   - a deletion or purge is delivered once (Deleted true), however many markers follow;
//   - a missing bucket or key delivers nothing: Run waits for it.
//
// Besides the watch, Run reads the key every Interval and delivers a revision the watch did
// not; if the watch still has not seen it one Interval later it is deemed stalled and is
// re-created. A closed watch, or one that cannot be created, is re-created with jittered
// exponential backoff. The old watch is always stopped first. Revisions compare within one
// life of the bucket: if the bucket is deleted and created again, Run logs it and starts over.
//
// Each call of Run is independent; call it once per Watcher.
func (w *Watcher) Run(ctx context.Context) <-chan Update {
	out := make(chan Update)
	r := &run{w: w, out: out, log: w.opts.Logger.With("bucket", w.bucket, "key", w.key)}
	go r.loop(ctx)
	return out
}
