package watchers

import (
	"fmt"
	"strings"
	"time"

	"github.com/choria-io/go-choria/aagent/watchers/event"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

// observe is the watcher's nodeloop.Observer: it publishes the pass as the watcher's state
// notification, counts it in the metrics and fires the success or failure transition.
func (w *Watcher) observe(o nodeloop.Outcome) {
	triggers := make([]string, 0, len(o.Triggers))
	for _, t := range o.Triggers {
		triggers = append(triggers, string(t))
	}
	n := w.notification(triggers, o.Revision, o.Report, o.SourceErr, o.Took)
	w.mu.Lock()
	w.state = n
	w.mu.Unlock()

	recordMetrics(w.machine.Name(), w.name, n.Outcome, o.Report)
	w.NotifyWatcherState(w.CurrentState())

	var terr error
	switch n.Outcome {
	case SummaryRefused, SummaryFailed:
		terr = w.FailureTransition()
	case SummaryChanged:
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
	} else if !r.Signed && len(w.keys) == 0 && w.keeper == nil {
		n.Warning = nodeloop.UnsignedWarning
	}
	return n
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
