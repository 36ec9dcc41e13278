package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultAgentInterval is how often mms agent re-verifies (and repairs) the machines
// directory and reads the key, even when the watch reports nothing.
const defaultAgentInterval = time.Minute

// Why a reconcile ran.
const (
	triggerChange   = "change"
	triggerInterval = "interval"
	triggerFallback = "interval, last accepted specification"
)

// agentLoop keeps one machines directory reconciled with one Key-Value key. mms agent and
// mms demo both run it.
type agentLoop struct {
	// cfg says how to reconcile; cfg.Logger also receives the loop's own lines.
	cfg machines.Config
	// bucket and key name the specification.
	bucket, key string
	// interval is how often the directory is re-verified and the key read.
	interval time.Duration
	// observe, when set, is called after every reconcile (mms demo waits on it).
	observe func(agentOutcome)
}

// agentOutcome is one reconcile the loop ran.
type agentOutcome struct {
	// Revision is the KV revision of the specification reconciled.
	Revision uint64
	// Trigger says why it ran: triggerChange, triggerInterval or triggerFallback.
	Trigger string
	// Report is what the reconcile did.
	Report *machines.Report
}

// run watches the key over js and reconciles until ctx is done. Reconciles never overlap: they
// run one after the other in this goroutine, and while one runs the watcher keeps only the
// latest revision. A deleted key, or no key at all, never purges anything.
func (a *agentLoop) run(ctx context.Context, js jetstream.JetStream) {
	log := a.cfg.Logger.With("bucket", a.bucket, "key", a.key)
	w := kvspec.NewWatcher(js, a.bucket, a.key, kvspec.WatchOptions{Interval: a.interval, Logger: log})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := w.Run(wctx)
	defer func() {
		cancel()
		for range updates {
		}
	}()
	log.Info("watching for the specification", "dir", a.cfg.Dir, "interval", a.interval)

	tick := time.NewTicker(a.interval)
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
			if rep := a.reconcile(ctx, log, u, triggerChange); rep.Err == nil {
				accepted = latest
			}
			tick.Reset(a.interval)
		case <-tick.C:
			if latest == nil {
				log.Debug("no specification yet: nothing to verify")
				continue
			}
			rep := a.reconcile(ctx, log, *latest, triggerInterval)
			switch {
			case rep.Err == nil:
				accepted = latest
			case accepted != nil && accepted.Revision != latest.Revision && ctx.Err() == nil:
				// The newest specification is refused: keep verifying and repairing what the
				// last accepted one installed rather than nothing.
				a.reconcile(ctx, log, *accepted, triggerFallback)
			}
		}
	}
}

// reconcile runs one reconcile of u and logs its outcome; the core logs each action.
func (a *agentLoop) reconcile(ctx context.Context, log *slog.Logger, u kvspec.Update, trigger string) *machines.Report {
	rep := machines.Reconcile(ctx, a.cfg, u.Value)
	log = log.With("revision", u.Revision, "trigger", trigger)
	changed, failed := 0, 0
	for _, r := range rep.Results {
		if r.Changed() {
			changed++
		}
		if r.Failed() {
			failed++
		}
	}
	switch {
	case rep.Err != nil:
		log.Error("specification refused, nothing changed", "error", rep.Err, "duration", rep.Duration)
	case ctx.Err() != nil:
		log.Warn("reconcile interrupted", "changed", changed, "failed", failed, "duration", rep.Duration)
	case failed > 0:
		log.Error("reconciled with failures", "version", rep.Version, "entries", len(rep.Results), "changed", changed, "failed", failed, "duration", rep.Duration)
	case changed > 0 || trigger == triggerChange:
		log.Info("reconciled", "version", rep.Version, "signed", rep.Signed, "entries", len(rep.Results), "changed", changed, "duration", rep.Duration)
	default:
		log.Debug("verified, nothing to change", "entries", len(rep.Results), "duration", rep.Duration)
	}
	outcome := agentOutcome{Revision: u.Revision, Trigger: trigger, Report: rep}
	if err := writeLastReport(a.cfg.Dir, outcome); err != nil {
		log.Warn("could not save the outcome for mms status", "error", err)
	}
	if a.observe != nil {
		a.observe(outcome)
	}
	return rep
}
