package fleet

import (
	"strings"
	"sync"
	"time"

	"github.com/mms-io/mms/internal/textclip"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// maxReason bounds each reason a status carries, so that a status stays one small message.
const maxReason = 512

// maxRepairs is how many repairs a status remembers.
const maxRepairs = 10

// Features are the specification formats and features a node of this mms understands: the
// formats, and every feature a v2 specification may require of it (spec.KnownFeatures), so
// that mms put can tell which nodes would refuse a specification.
var Features = append([]string{"format-v1", "format-v2"}, spec.KnownFeatures()...)

// Reporter turns a node loop's outcomes into the node's Status, remembering across them what
// one outcome does not say: the specification accepted before a refusal, and past repairs.
// It is safe for concurrent use.
type Reporter struct {
	// Identity, Host and Version say who the node is (Status.Identity, Host, MMSVersion).
	Identity, Host, Version string
	// Dir is the machines directory, to read each installed machine's version.
	Dir string
	// Heartbeat is how often the node reports when nothing changes; a status stays current
	// for a few of them. 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// State, when set, gives a machine's current state, "" when it has none (Choria: the
	// state of the machine the entry installed).
	State func(machine string) string
	// Rollout, when set, says where the staged change that brings a machine to a checksum
	// stands here (nodeloop.Staging.Status).
	Rollout func(machine, checksum string) *nodeloop.RolloutStatus

	mu       sync.Mutex
	status   Status
	versions map[string]string // machine version by archive checksum, as read from disk
}

// Status returns the node's status as of the outcomes seen, stamped now. The host's State
// lookups run after the reporter's lock is released.
func (r *Reporter) Status(now time.Time) Status {
	r.mu.Lock()
	r.init()
	s := r.status
	s.ReportedAt = now.UTC()
	s.Machines = append([]Machine{}, s.Machines...)
	s.Repairs = append([]Repair(nil), s.Repairs...)
	r.mu.Unlock()
	for i := range s.Machines {
		m := &s.Machines[i]
		if r.State != nil && m.Verified {
			m.State = r.State(m.Name)
		}
		if r.Rollout != nil && m.Checksum != "" {
			m.Rollout = r.Rollout(m.Name, m.Checksum)
		}
	}
	if r.Rollout != nil {
		s.Outcome = outcome(&s) // a staged change moves on between reconciles
	}
	return s
}

func (r *Reporter) init() {
	if r.status.Schema != "" {
		return
	}
	r.status = Status{Schema: Schema, Identity: r.Identity, Host: r.Host, MMSVersion: r.Version, Features: Features,
		FreshForMS: FreshFor(r.Heartbeat).Milliseconds(), Outcome: OutcomeWaiting, Machines: []Machine{}}
	r.versions = map[string]string{}
}

// Observe takes one outcome of the node loop.
func (r *Reporter) Observe(o nodeloop.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	s := &r.status
	rep := o.Report
	if o.NodeErr == nil && !o.Preempted {
		s.NodeError = ""
	}
	switch {
	case o.Preempted:
		return // a newer specification is on its way
	case o.NodeErr != nil:
		s.NodeError = clip(o.NodeErr.Error())
		s.Outcome = outcome(s)
		return
	case o.SourceErr != nil:
		s.Refused = &Refusal{Revision: o.Revision, Reason: clip(o.SourceErr.Error()), At: time.Now().UTC()}
	case rep == nil: // no specification: nothing changes on disk
	case rep.Err != nil:
		s.Refused = &Refusal{Revision: o.Revision, Reason: clip(rep.Err.Error()), At: rep.Started.Add(rep.Duration).UTC()}
		s.LastReconcile, s.Trigger = rep.Started.Add(rep.Duration).UTC(), triggers(o)
	default:
		if !o.Has(nodeloop.TriggerFallback) {
			s.Refused = nil // a newer specification was accepted
		}
		s.Spec = &SpecRef{Format: rep.Format, Version: rep.Version, Revision: o.Revision, Digest: rep.Digest, Signed: rep.Signed}
		s.LastReconcile, s.Trigger = rep.Started.Add(rep.Duration).UTC(), triggers(o)
		s.Machines = r.machines(rep)
		for _, res := range rep.Results {
			if res.Action == machines.ActionRepair && !res.Failed() {
				s.Repairs = append(s.Repairs, Repair{Machine: res.Name, At: s.LastReconcile})
			}
		}
		if len(s.Repairs) > maxRepairs {
			s.Repairs = s.Repairs[len(s.Repairs)-maxRepairs:]
		}
	}
	s.Outcome = outcome(s)
}

// outcome classifies s.
func outcome(s *Status) Outcome {
	switch {
	case s.NodeError != "":
		return OutcomeFailed
	case s.Refused != nil:
		return OutcomeRefused
	case s.Spec == nil:
		return OutcomeWaiting
	}
	converging, held := false, false
	for _, m := range s.Machines {
		if m.Error != "" {
			return OutcomeFailed
		}
		if r := m.Rollout; r != nil && (r.Phase == nodeloop.PhaseReverted || r.Phase == nodeloop.PhaseHalted || r.Phase == nodeloop.PhaseUnhealthy) {
			held = true
		}
		converging = converging || m.Action == machines.ActionDefer || m.Action == machines.ActionReplace || m.Action == machines.ActionWait ||
			m.Rollout != nil && m.Rollout.Phase == nodeloop.PhaseChecking
	}
	switch {
	case held:
		return OutcomeHeld
	case converging:
		return OutcomeConverging
	}
	return OutcomeConverged
}

// machines lists the entries of rep that concern this node: not those whose matcher is
// false here, nor removed ones, nor go-choria's manager directories.
func (r *Reporter) machines(rep *machines.Report) []Machine {
	out := []Machine{}
	for _, res := range rep.Results {
		switch res.Action {
		case machines.ActionSkip, machines.ActionRemove, machines.ActionRetire, machines.ActionLeave:
			continue
		}
		m := Machine{Name: res.Name, Checksum: res.Checksum, Action: res.Action}
		if res.Failed() {
			m.Error = clip(res.Reason)
		}
		switch res.Action {
		case machines.ActionKeep, machines.ActionInstall, machines.ActionUpdate, machines.ActionRepair, machines.ActionAdopt, machines.ActionReplace:
			m.Verified = !res.Failed()
		}
		if m.Verified {
			m.Version = r.version(res.Name, res.Checksum)
		}
		out = append(out, m)
	}
	return out
}

// version is the machine version of the archive checksum installed as name, read from disk
// the first time only: an archive's machine.yaml does not change.
func (r *Reporter) version(name, checksum string) string {
	if v, ok := r.versions[checksum]; ok {
		return v
	}
	v := machines.MachineVersion(r.Dir, name)
	if len(r.versions) > 4096 {
		clear(r.versions)
	}
	r.versions[checksum] = v
	return v
}

// triggers says why a pass ran.
func triggers(o nodeloop.Outcome) string {
	names := make([]string, len(o.Triggers))
	for i, t := range o.Triggers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// clip bounds a reason to maxReason bytes, on a rune boundary.
func clip(s string) string { return textclip.Clip(s, maxReason) }
