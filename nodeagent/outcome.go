package nodeagent

import (
	"context"
	"log/slog"
	"time"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
)

// Trigger says why a reconcile ran.
type Trigger string

const (
	// TriggerChange is a reconcile of a revision the watch (or a read of the key) delivered.
	TriggerChange Trigger = "change"
	// TriggerInterval is the periodic reconcile of the newest revision.
	TriggerInterval Trigger = "interval"
	// TriggerFallback is the periodic reconcile of the last accepted revision, run when the
	// newest one is refused.
	TriggerFallback Trigger = "interval, last accepted specification"
	// TriggerApply is a one-shot reconcile by mms apply, of a specification from a file.
	TriggerApply Trigger = "mms apply"
)

// Outcome is one reconcile a Loop ran.
type Outcome struct {
	// Revision is the KV revision of the specification reconciled.
	Revision uint64
	// Created is when the server stored that revision.
	Created time.Time
	// Trigger says why it ran.
	Trigger Trigger
	// Report is what the reconcile did.
	Report *machines.Report
}

// reconciler runs one reconcile at a time for a Loop and reports it.
type reconciler struct {
	cfg        machines.Config
	log        *slog.Logger
	observe    func(Outcome)
	saveReport bool
}

// reconcile runs one reconcile of u and logs its outcome; the core logs each action.
func (r *reconciler) reconcile(ctx context.Context, u kvspec.Update, trigger Trigger) *machines.Report {
	rep := machines.Reconcile(ctx, r.cfg, u.Value)
	log := r.log.With("revision", u.Revision, "trigger", string(trigger))
	changed, failed := 0, 0
	for _, res := range rep.Results {
		if res.Changed() {
			changed++
		}
		if res.Failed() {
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
	case changed > 0 || trigger == TriggerChange:
		log.Info("reconciled", "version", rep.Version, "signed", rep.Signed, "entries", len(rep.Results), "changed", changed, "duration", rep.Duration)
	default:
		log.Debug("verified, nothing to change", "entries", len(rep.Results), "duration", rep.Duration)
	}
	o := Outcome{Revision: u.Revision, Created: u.Created, Trigger: trigger, Report: rep}
	if r.saveReport {
		if err := WriteLastReport(r.cfg.Dir, o); err != nil {
			log.Warn("could not save the outcome for mms status", "error", err)
		}
	}
	if r.observe != nil {
		r.observe(o)
	}
	return rep
}
