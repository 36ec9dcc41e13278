package watchers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
)

// Waits between attempts to get the machine's JetStream connection, which Choria sets up
// after the machines start.
const (
	connectMinBackoff = time.Second
	connectMaxBackoff = 30 * time.Second
)

// watchKey follows the specification's KV key and pokes the reconcile loop on every new
// revision, until ctx ends. kvspec re-creates broken or stalled watches and reads the key
// every interval, so that a missed update is found.
func (w *Watcher) watchKey(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()

	js, nc, err := w.jetStream(ctx)
	if err != nil {
		return
	}

	kw := kvspec.NewWatcher(js, w.settings.Bucket, w.settings.Key, kvspec.WatchOptions{
		Interval: w.interval,
		Logger:   newMachineLogger(w),
		Conn:     nc,
	})
	for u := range kw.Run(ctx) {
		w.mu.Lock()
		w.kv = kvLatest{value: u.Value, revision: u.Revision, deleted: u.Deleted}
		w.mu.Unlock()
		if u.Deleted {
			w.Warnf("Specification %s/%s was deleted at revision %d: keeping every machine as it is", w.settings.Bucket, w.settings.Key, u.Revision)
		} else {
			w.Infof("Specification %s/%s revision %d received", w.settings.Bucket, w.settings.Key, u.Revision)
		}
		w.poke(TriggerSpecification)
	}
}

// jetStream waits for the machine's JetStream connection, retrying with backoff; it fails
// only when ctx ends.
func (w *Watcher) jetStream(ctx context.Context) (jetstream.JetStream, *nats.Conn, error) {
	wait := connectMinBackoff
	for attempt := 1; ; attempt++ {
		js, nc, err := w.tryJetStream()
		if err == nil {
			return js, nc, nil
		}
		if attempt == 1 || attempt%10 == 0 {
			w.Warnf("Waiting for the JetStream connection to watch %s/%s: %v", w.settings.Bucket, w.settings.Key, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-w.terminate:
			t.Stop()
			return nil, nil, fmt.Errorf("watcher deleted")
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
