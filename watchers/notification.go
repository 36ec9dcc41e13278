package watchers

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/choria-io/go-choria/aagent/watchers/event"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/mms-io/mms/machines"
)

// Summary summarises one reconcile: the outcome field of a notification.
type Summary string

const (
	// SummaryChanged means the specification was accepted and the machines directory changed.
	SummaryChanged Summary = "changed"
	// SummaryUnchanged means the specification was accepted and nothing needed changing.
	SummaryUnchanged Summary = "unchanged"
	// SummaryFailed means the specification was accepted but some entry failed or was refused.
	SummaryFailed Summary = "failed"
	// SummaryRefused means the specification as a whole was refused: nothing on disk changed.
	SummaryRefused Summary = "refused"
	// SummaryNoSpecification means there was no specification to apply: nothing on disk changed.
	SummaryNoSpecification Summary = "no_specification"
	// SummaryNone means no reconcile has run yet.
	SummaryNone Summary = "none"
)

// MachineOutcome is what a reconcile did for one entry or managed machine, and why.
type MachineOutcome struct {
	// Name is the entry or machine name.
	Name string `json:"name"`
	// Action is what was planned: install, update, keep, repair, adopt, skip, refuse, remove.
	Action string `json:"action"`
	// Reason says why.
	Reason string `json:"reason,omitempty"`
	// Error is the failure, when the action failed or was refused.
	Error string `json:"error,omitempty"`
	// Failed is true when the action was refused or did not complete.
	Failed bool `json:"failed"`
	// Duration is how long the action took, in nanoseconds.
	Duration time.Duration `json:"duration"`
}

// StateNotification is the watcher's state: the outcome of its last reconcile, published as a
// CloudEvent of type io.choria.machine.watcher.machines.v1.state.
type StateNotification struct {
	event.Event

	// Outcome summarises the last reconcile.
	Outcome Summary `json:"outcome"`
	// Triggers says what started it: start, specification, interval, state.
	Triggers []string `json:"triggers,omitempty"`
	// Source says where the specification came from: the data item or bucket and key.
	Source string `json:"source"`
	// Revision is the KV revision of the specification, in bucket mode.
	Revision uint64 `json:"revision,omitempty"`
	// Format is the payload format accepted (1 or 2), 0 when none was.
	Format int `json:"format"`
	// SpecVersion is the v2 specification version, 0 for v1.
	SpecVersion int64 `json:"spec_version"`
	// Signed tells whether a trusted key verified the specification's signature.
	Signed bool `json:"signed"`
	// KeySource says where the trusted keys came from, "none" when there are none.
	KeySource KeySource `json:"key_source"`
	// Warning is set when the specification was accepted unsigned because no key is configured.
	Warning string `json:"warning,omitempty"`
	// Error says why the specification was refused, or why there was none.
	Error string `json:"error,omitempty"`
	// UnknownFields lists specification fields this node does not know (ignored).
	UnknownFields []string `json:"unknown_fields,omitempty"`
	// Outcomes lists what happened to each entry and managed machine, and why.
	Outcomes []MachineOutcome `json:"outcomes"`
	// Machines names the machines mms manages after the reconcile. With PreviousOutcome and
	// PreviousRunTime it is go-choria's own machines watcher notification, so that an
	// operator's stock `choria machine watch` (which parses it with go-choria's type) shows
	// ours too.
	Machines []string `json:"machines"`
	// PreviousOutcome is Outcome under go-choria's name for it.
	PreviousOutcome string `json:"previous_outcome"`
	// PreviousRunTime is how long the last reconcile took, in nanoseconds.
	PreviousRunTime int64 `json:"previous_run_time"`
}

// CloudEvent returns the notification as a CloudEvent.
func (s *StateNotification) CloudEvent() cloudevents.Event {
	return s.Event.CloudEvent(s)
}

// JSON returns the notification's CloudEvent as JSON.
func (s *StateNotification) JSON() ([]byte, error) {
	return json.Marshal(s.CloudEvent())
}

// String reads as one line in `choria machine watch`:
//
//	node1 machines_manager#machines changed v2 1700000000000 signed: install web, keep db (0.512s)
func (s *StateNotification) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s#%s %s", s.Identity, s.Machine, s.Name, s.Outcome)
	switch s.Format {
	case 1:
		b.WriteString(" v1")
	case 2:
		fmt.Fprintf(&b, " v2 %d", s.SpecVersion)
	}
	if s.Format != 0 {
		if s.Signed {
			b.WriteString(" signed")
		} else {
			b.WriteString(" UNSIGNED")
		}
	}
	if s.Error != "" {
		fmt.Fprintf(&b, ": %s", s.Error)
	}

	var parts []string
	for _, m := range s.Outcomes {
		part := m.Action + " " + m.Name
		switch {
		case m.Error != "":
			part += " (" + m.Error + ")"
		case m.Failed && m.Reason != "":
			part += " (" + m.Reason + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(parts, ", "))
	}
	if s.Warning != "" {
		fmt.Fprintf(&b, " WARNING: %s", s.Warning)
	}
	fmt.Fprintf(&b, " (%.3fs)", float64(s.PreviousRunTime)/float64(time.Second))
	return b.String()
}

// outcomeOf summarises a report.
func outcomeOf(r *machines.Report) Summary {
	switch {
	case r == nil:
		return SummaryNoSpecification
	case r.Err != nil:
		return SummaryRefused
	case r.Failed():
		return SummaryFailed
	case r.Changed():
		return SummaryChanged
	}
	return SummaryUnchanged
}

// managedNames names the machines mms manages once the reconcile of r is done: every entry
// kept, repaired, adopted, replaced or updated (a failed update keeps the old version), every
// entry installed without failing, and every staged entry held or taken back that stays on a
// version. Sorted as the report is.
func managedNames(r *machines.Report) []string {
	out := []string{}
	if r == nil {
		return out
	}
	for _, res := range r.Results {
		switch res.Action {
		case machines.ActionKeep, machines.ActionRepair, machines.ActionAdopt, machines.ActionReplace, machines.ActionUpdate:
			out = append(out, res.Name)
		case machines.ActionInstall:
			if !res.Failed() {
				out = append(out, res.Name)
			}
		case machines.ActionWait, machines.ActionRevert:
			// A staged change held back or taken back: managed while a version stays.
			if res.Installed != "" || res.Failed() {
				out = append(out, res.Name)
			}
		}
	}
	return out
}

// machineOutcomes turns a report's results into notification entries.
func machineOutcomes(r *machines.Report) []MachineOutcome {
	out := []MachineOutcome{}
	if r == nil {
		return out
	}
	for _, res := range r.Results {
		m := MachineOutcome{
			Name:     res.Name,
			Action:   string(res.Action),
			Reason:   res.Reason,
			Failed:   res.Failed(),
			Duration: res.Duration,
		}
		if res.Err != nil {
			m.Error = res.Err.Error()
		}
		out = append(out, m)
	}
	return out
}
