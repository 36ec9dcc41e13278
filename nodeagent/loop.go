package nodeagent

import (
	"context"
	"log/slog"
	"time"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultInterval is how often a Loop re-verifies (and repairs) the machines directory and
// reads the key, even when the watch reports nothing.
const DefaultInterval = time.Minute

// Loop keeps one machines directory reconciled with one Key-Value key. Set its fields, then
// call Run once.
type Loop struct {
	// Config says how to reconcile; Config.Logger also receives the loop's own lines.
	Config machines.Config
	// Bucket and Key name the specification.
	Bucket, Key string
	// Interval is how often the directory is re-verified and the key read; 0 means
	// DefaultInterval.
	Interval time.Duration
	// Conn, when set, is the connection under the JetStream context given to Run: the watch
	// is then re-created the moment it reconnects rather than at the next Interval.
	Conn *nats.Conn
	// Observe, when set, is called in the loop's goroutine after every reconcile, before the
	// next one can start (mms demo and the fleet simulator wait on it).
	Observe func(Outcome)
	// NoLastReport leaves out saving each outcome for mms status (DIR/.mms/last-report.json).
	NoLastReport bool
}

// Run watches the key over js and reconciles until ctx is done. Reconciles never overlap: they
// run one after the other in this goroutine, and while one runs the watcher keeps only the
// latest revision. A deleted key, or no key at all, never purges anything.
func (l *Loop) Run(ctx context.Context, js jetstream.JetStream) {
	interval := l.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	cfg := l.Config
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Retry == nil {
		// Remember failing downloads across this loop's reconciles, so that a failing source
		// is not retried by every node at every interval.
		cfg.Retry = machines.NewRetryMemory(machines.RetryPolicy{})
	}
	log := cfg.Logger.With("bucket", l.Bucket, "key", l.Key)
	w := kvspec.NewWatcher(js, l.Bucket, l.Key, kvspec.WatchOptions{Interval: interval, Logger: log, Conn: l.Conn})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := w.Run(wctx)
	defer func() {
		cancel()
		for range updates {
		}
	}()
	log.Info("watching for the specification", "dir", cfg.Dir, "interval", interval)

	r := &reconciler{cfg: cfg, log: log, observe: l.Observe, saveReport: !l.NoLastReport}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// latest is the newest revision received; accepted the newest one a reconcile accepted.
	var latest, accepted *kvspec.Update
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping", "reason", context.Cause(ctx))
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			if u.Deleted {
				log.Warn("specification deleted: nothing is purged, machines stay as they are until a new specification arrives", "revision", u.Revision)
				latest, accepted = nil, nil
				continue
			}
			log.Info("specification received", "revision", u.Revision)
			latest = &u
			if rep := r.reconcile(ctx, u, TriggerChange); rep.Err == nil {
				accepted = latest
			}
			tick.Reset(interval)
		case <-tick.C:
			if latest == nil {
				log.Debug("no specification yet: nothing to verify")
				continue
			}
			rep := r.reconcile(ctx, *latest, TriggerInterval)
			switch {
			case rep.Err == nil:
				accepted = latest
			case accepted != nil && accepted.Revision != latest.Revision && ctx.Err() == nil:
				// The newest specification is refused: keep verifying and repairing what the
				// last accepted one installed rather than nothing.
				r.reconcile(ctx, *accepted, TriggerFallback)
			}
		}
	}
}
