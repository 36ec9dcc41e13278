package watchers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/choria-io/go-choria/aagent/watchers/event"

	"github.com/mms-io/mms/machines"
)

// runOnce reconciles once, if the machine is in one of the watcher's states, then notifies,
// counts and transitions.
func (w *Watcher) runOnce(ctx context.Context, triggers []string) {
	if !w.ShouldWatch() {
		w.Debugf("Not reconciling in state %s%s (triggered by %v)", w.machine.State(), w.requiredStates(), triggers)
		return
	}

	started := time.Now()
	envelope, revision, err := w.envelope()

	var report *machines.Report
	switch {
	case err != nil:
		w.Errorf("Not reconciling: %v", err)
	case envelope == nil:
		w.Infof("Not reconciling: no specification in %s", w.sourceName())
	default:
		report = w.reconcile(ctx, envelope)
	}

	n := w.notification(triggers, revision, report, err, time.Since(started))
	w.mu.Lock()
	w.state = n
	w.mu.Unlock()

	w.log(n, report)
	recordMetrics(w.machine.Name(), w.name, n.Outcome, report)
	w.NotifyWatcherState(w.CurrentState())

	var terr error
	switch n.Outcome {
	case OutcomeRefused, OutcomeFailed:
		terr = w.FailureTransition()
	case OutcomeChanged:
		terr = w.SuccessTransition()
	}
	if terr != nil {
		w.Errorf("Could not transition after a %s reconcile: %v", n.Outcome, terr)
	}
}

// notification describes one reconcile.
func (w *Watcher) notification(triggers []string, revision uint64, r *machines.Report, srcErr error, took time.Duration) *StateNotification {
	n := &StateNotification{
		Event:           event.New(w.name, WatcherType, NotificationVersion, w.machine),
		Outcome:         outcomeOf(r),
		Triggers:        triggers,
		Source:          w.sourceName(),
		Revision:        revision,
		KeySource:       w.keySource,
		Outcomes:        machineOutcomes(r),
		Machines:        managedNames(r),
		PreviousRunTime: took.Nanoseconds(),
	}
	n.PreviousOutcome = string(n.Outcome)
	if srcErr != nil {
		n.Error = srcErr.Error()
	}
	if r == nil {
		if srcErr == nil {
			n.Error = "no specification in " + w.sourceName() + ": nothing changed"
		}
		return n
	}

	n.Format = r.Format
	n.SpecVersion = r.Version
	n.Signed = r.Signed
	n.UnknownFields = r.Unknown
	if r.Duration > 0 {
		n.PreviousRunTime = r.Duration.Nanoseconds()
	}
	if r.Err != nil {
		n.Error = r.Err.Error()
	} else if !r.Signed && len(w.keys) == 0 {
		n.Warning = unsignedWarning
	}
	return n
}

// log writes the reconcile's outcome to the machine's log.
func (w *Watcher) log(n *StateNotification, r *machines.Report) {
	switch n.Outcome {
	case OutcomeRefused:
		w.Errorf("Specification refused, nothing changed: %s", n.Error)
	case OutcomeFailed, OutcomeChanged:
		w.Infof("Reconciled: %s", n.String())
	default:
		w.Debugf("Reconciled: %s", n.String())
	}
	if n.Warning != "" {
		w.Warnf("%s", n.Warning)
	}
	if r != nil && len(r.Unknown) > 0 {
		w.Warnf("Specification has fields this node does not know, ignored: %v", r.Unknown)
	}
	for _, m := range n.Outcomes {
		if m.Failed {
			w.Errorf("Entry %s: %s failed: %s %s", m.Name, m.Action, m.Reason, m.Error)
		}
	}
}

// requiredStates describes the foreign machine states the watcher waits for, as they are now,
// for the log line that says why it did not reconcile; empty when it requires none.
func (w *Watcher) requiredStates() string {
	var parts []string
	for _, r := range w.required {
		now, err := w.machine.LookupExternalMachineState(r.MachineName)
		if err != nil {
			now = "unknown: " + err.Error()
		}
		parts = append(parts, fmt.Sprintf("%s %s (now %s)", r.MachineName, r.MachineState, now))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", requiring " + strings.Join(parts, " and ")
}
