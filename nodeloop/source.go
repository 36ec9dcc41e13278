package nodeloop

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
)

// Update is one look at the specification, as a Source delivers it.
type Update struct {
	// Envelope is the specification envelope; nil when there is none (never published,
	// deleted, removed). A missing specification never purges anything.
	Envelope []byte
	// Revision is the KV revision, 0 for a source without revisions.
	Revision uint64
	// Created is when the source stored it, when it knows.
	Created time.Time
	// Err says that the source holds something that is not a specification envelope; nothing is
	// reconciled against it.
	Err error
}

// Source delivers the specification: what it holds when it knows (a KV key's current value,
// a data item at its first look), then every change. The latest update wins: a Source never
// blocks on a slow loop, it replaces what the loop has not taken yet. The channel closes when
// ctx ends.
type Source interface {
	// Name says where the specification comes from, for logs and notifications:
	// "kv MACHINES/machines", "data item spec".
	Name() string
	// Run delivers updates until ctx ends.
	Run(ctx context.Context) <-chan Update
}

// Current is what a Source may also offer: what it holds now, without waiting (a data item is a
// map lookup). The loop's start reconcile then answers it, rather than finding nothing and
// reconciling again a moment later.
type Current interface {
	Current() Update
}

// History is what a Source may also offer: the revisions it still keeps, newest first. After a
// restart, when the newest specification is refused, the loop finds the one the machines
// directory accepted last among them, and keeps repairing what it installed.
type History interface {
	History(ctx context.Context) ([]Update, error)
}

// KVSource follows a NATS KV key with kvspec: the watch is a hint and the key the truth (it is
// read every interval, and a broken or stalled watch is re-created with backoff).
type KVSource struct {
	// Watcher follows the key; see kvspec.NewWatcher.
	Watcher *kvspec.Watcher
	// Bucket and Key name it.
	Bucket, Key string
	// JS, when set, lets History read the key's kept revisions.
	JS jetstream.JetStream
}

// NewKVSource follows key in bucket over js; see kvspec.NewWatcher for opts.
func NewKVSource(js jetstream.JetStream, bucket, key string, opts kvspec.WatchOptions) *KVSource {
	return &KVSource{Watcher: kvspec.NewWatcher(js, bucket, key, opts), Bucket: bucket, Key: key, JS: js}
}

// History implements History from the bucket's kept revisions of the key.
func (s *KVSource) History(ctx context.Context) ([]Update, error) {
	if s.JS == nil {
		return nil, nil
	}
	entries, err := kvspec.History(ctx, s.JS, s.Bucket, s.Key)
	if err != nil {
		return nil, err
	}
	out := make([]Update, 0, len(entries))
	for _, e := range entries {
		out = append(out, Update{Envelope: e.Value, Revision: e.Revision, Created: e.Created})
	}
	return out, nil
}

// Name implements Source.
func (s *KVSource) Name() string { return "kv " + s.Bucket + "/" + s.Key }

// Run implements Source.
func (s *KVSource) Run(ctx context.Context) <-chan Update {
	in := s.Watcher.Run(ctx)
	out := make(chan Update)
	go func() {
		defer close(out)
		for u := range in {
			up := Update{Envelope: u.Value, Revision: u.Revision, Created: u.Created}
			if u.Deleted {
				up.Envelope = nil
			}
			select {
			case out <- up:
			case <-ctx.Done():
				for range in {
				}
				return
			}
		}
	}()
	return out
}
