package nodeloop

import (
	"time"

	"github.com/mms-io/mms/machines"
)

// Trigger says why a reconcile ran.
type Trigger string

const (
	// TriggerStart is the loop's first reconcile, of what the source held when it started.
	TriggerStart Trigger = "start"
	// TriggerSpecification is a new specification (or its deletion) from the source.
	TriggerSpecification Trigger = "specification"
	// TriggerInterval is the interval tick: re-verify, repair, read the key.
	TriggerInterval Trigger = "interval"
	// TriggerState is the host waking the loop (a Choria machine entering a state).
	TriggerState Trigger = "state"
	// TriggerRollout is the staged-rollout controller waking the loop: a change was admitted
	// here, or must be taken back.
	TriggerRollout Trigger = "rollout"
	// TriggerFallback marks a reconcile of the last accepted specification, run because the
	// newest one is refused or gone.
	TriggerFallback Trigger = "fallback"
	// TriggerApply is a one-shot reconcile by mms apply, of a specification from a file.
	TriggerApply Trigger = "mms apply"
)

// Outcome is one pass of the loop: a reconcile, or the finding that there was nothing to
// reconcile against.
type Outcome struct {
	// Triggers says why it ran, in the order of the constants above.
	Triggers []Trigger
	// Source names where the specification came from (Source.Name).
	Source string
	// Revision is the revision of the specification reconciled (or found missing).
	Revision uint64
	// Created is when the source stored that revision, when it knows.
	Created time.Time
	// Report is what the reconcile did; nil when there was no specification to reconcile
	// against (Missing) or the source held something else (SourceErr).
	Report *machines.Report
	// Missing is true when there was no specification: nothing changed.
	Missing bool
	// SourceErr says why the source's value is not a specification: nothing changed.
	SourceErr error
	// NodeErr is set when the node could not reconcile at all for a reason of its own (it
	// cannot hold its machines directory, Prepare failed): the specification was not judged,
	// nothing changed, and Report.Err says the same.
	NodeErr error
	// Preempted is true when a newer specification cancelled this reconcile before it ended.
	Preempted bool
	// Took is how long the pass took.
	Took time.Duration
}

// Has tells whether trigger is among o's triggers.
func (o Outcome) Has(trigger Trigger) bool {
	for _, t := range o.Triggers {
		if t == trigger {
			return true
		}
	}
	return false
}

// Accepted tells whether the reconcile accepted its specification (whatever its entries did).
func (o Outcome) Accepted() bool { return o.Report != nil && o.Report.Err == nil }

// Observer is told of every Outcome, in the loop's goroutine, before the next pass starts:
// it must not block for long. Observers are told in order: put LastReportObserver first, so
// that mms status agrees with what the others tell.
type Observer interface {
	Observe(Outcome)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Outcome)

// Observe implements Observer.
func (f ObserverFunc) Observe(o Outcome) { f(o) }
