package watchers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/nodeloop"
)

// Waits between attempts to get the machine's JetStream connection, which Choria sets up
// after the machines start.
const (
	connectMinBackoff = time.Second
	connectMaxBackoff = 30 * time.Second
)

// kvSource is the nodeloop.Source of a specification in a KV key, followed over the
// machine's own JetStream connection, which Choria sets up after the machines start: it waits
// for it with backoff, then follows the key with kvspec (the watch is a hint, the key the
// truth, read every interval; a broken or stalled watch is re-created).
type kvSource struct {
	w *Watcher

	mu sync.Mutex
	kv *nodeloop.KVSource // once the connection is there
}

// History implements nodeloop.History, once the connection is there.
func (s *kvSource) History(ctx context.Context) ([]nodeloop.Update, error) {
	s.mu.Lock()
	kv := s.kv
	s.mu.Unlock()
	if kv == nil {
		return nil, nil
	}
	return kv.History(ctx)
}

// Name implements nodeloop.Source.
func (s *kvSource) Name() string { return "kv " + s.w.settings.Bucket + "/" + s.w.settings.Key }

// Run implements nodeloop.Source.
func (s *kvSource) Run(ctx context.Context) <-chan nodeloop.Update {
	out := make(chan nodeloop.Update)
	go func() {
		defer close(out)
		js, nc, err := s.w.jetStream(ctx, "watch "+s.w.settings.Bucket+"/"+s.w.settings.Key)
		if err != nil {
			return
		}
		kv := nodeloop.NewKVSource(js, s.w.settings.Bucket, s.w.settings.Key, kvspec.WatchOptions{
			Interval: s.w.interval,
			Logger:   newMachineLogger(s.w),
			Conn:     nc,
		})
		s.mu.Lock()
		s.kv = kv
		s.mu.Unlock()
		for u := range kv.Run(ctx) {
			select {
			case out <- u:
			case <-ctx.Done():
			}
		}
	}()
	return out
}

// jetStream waits for the machine's JetStream connection, retrying with backoff, to do what
// (for the warnings it logs meanwhile); it fails only when ctx ends.
func (w *Watcher) jetStream(ctx context.Context, what string) (jetstream.JetStream, *nats.Conn, error) {
	wait := connectMinBackoff
	for attempt := 1; ; attempt++ {
		js, nc, err := w.tryJetStream()
		if err == nil {
			return js, nc, nil
		}
		if attempt == 1 || attempt%10 == 0 {
			w.Warnf("Waiting for the JetStream connection to %s: %v", what, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, connectMaxBackoff)
	}
}

func (w *Watcher) tryJetStream() (jetstream.JetStream, *nats.Conn, error) {
	mgr, err := w.machine.JetStreamConnection()
	if err != nil {
		return nil, nil, fmt.Errorf("machine JetStream connection: %w", err)
	}
	nc := mgr.NatsConn()
	if nc == nil {
		return nil, nil, fmt.Errorf("machine JetStream connection has no NATS connection")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("JetStream over the machine's connection: %w", err)
	}
	return js, nc, nil
}
