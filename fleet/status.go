package fleet

import (
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

// Schema names the version of the Status document; a reader refuses others.
const Schema = "mms.node-status.v1"

// Defaults of the status bucket and of a node's reporting.
const (
	// DefaultBucket is the Key-Value bucket the statuses live in.
	DefaultBucket = "MACHINES_STATUS"
	// DefaultHeartbeat is how often a node says its status again when nothing changed.
	DefaultHeartbeat = time.Minute
	// DefaultRetention is the bucket's max age: how long the last status of a node that
	// stopped reporting stays readable (shown as offline) before it drops out.
	DefaultRetention = 24 * time.Hour
	// freshHeartbeats is how many heartbeats a status stays current: one lost report does
	// not make a node offline.
	freshHeartbeats = 3
)

// Status is what one node says of itself. It is small (no file lists, no reasons longer than
// maxReason) and holds nothing secret: sources are redacted and no password is ever in it.
type Status struct {
	Schema string `json:"schema"`
	// Identity is the node's identity, as matchers see it.
	Identity string `json:"identity"`
	// Host is what runs the node loop: "choria" (the machines watcher) or "mms agent".
	Host string `json:"host"`
	// MMSVersion is the mms module version; Features the specification formats and
	// features this node understands.
	MMSVersion string   `json:"mms_version"`
	Features   []string `json:"features"`
	// ReportedAt is when the node published this; FreshForMS how long, in milliseconds, it
	// stays current.
	ReportedAt time.Time `json:"reported_at"`
	FreshForMS int64     `json:"fresh_for_ms"`
	// Outcome classifies the last reconcile.
	Outcome Outcome `json:"outcome"`
	// Spec is the specification the node accepted last and acts on; nil before any.
	Spec *SpecRef `json:"spec,omitempty"`
	// Refused is the newest specification the node refused, while it still acts on Spec.
	Refused *Refusal `json:"refused,omitempty"`
	// NodeError is why the node could not reconcile at all, for a reason of its own (it
	// cannot hold its machines directory): the specification was not judged.
	NodeError string `json:"node_error,omitempty"`
	// LastReconcile is when the last reconcile ended, and why it ran.
	LastReconcile time.Time `json:"last_reconcile,omitzero"`
	Trigger       string    `json:"trigger,omitempty"`
	// Machines are the machines of the specification on this node, by name.
	Machines []Machine `json:"machines"`
	// Repairs are the latest repairs of tampered or missing machines (drift), newest last.
	Repairs []Repair `json:"repairs,omitempty"`
}

// Outcome is how a node's last reconcile went.
type Outcome string

// The outcomes.
const (
	// OutcomeConverged: every entry for this node is installed and verifies.
	OutcomeConverged Outcome = "converged"
	// OutcomeConverging: nothing failed, but the reconcile left work for a later one (an
	// entry deferred, or go-choria's older install adopted, while go-choria's manager is
	// retired).
	OutcomeConverging Outcome = "converging"
	// OutcomeFailed: an entry was refused or failed (see its machine's error), or the node
	// could not reconcile at all (NodeError).
	OutcomeFailed Outcome = "failed"
	// OutcomeRefused: the newest specification was refused as a whole (see Refused).
	OutcomeRefused Outcome = "refused"
	// OutcomeHeld: a staged change is halted or was taken back here (see its machine's
	// rollout): the node stays on the version before it.
	OutcomeHeld Outcome = "held"
	// OutcomeWaiting: no specification has been published or accepted yet.
	OutcomeWaiting Outcome = "waiting"
)

// SpecRef names a specification.
type SpecRef struct {
	Format   int    `json:"format"`
	Version  int64  `json:"version,omitempty"`
	Revision uint64 `json:"revision"`
	// Digest is the sha256 hex of its payload: what tells two specifications apart whatever
	// their format and source (a v1 specification from a data item has neither version nor
	// revision).
	Digest string `json:"digest,omitempty"`
	Signed bool   `json:"signed"`
}

// Refusal is a specification the node refused.
type Refusal struct {
	Revision uint64    `json:"revision"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// Machine is one entry or managed machine on the node.
type Machine struct {
	Name string `json:"name"`
	// Checksum is the archive the entry names (the one installed, when Verified).
	Checksum string `json:"checksum,omitempty"`
	// Version is the machine's version, from its machine.yaml, when installed.
	Version string `json:"version,omitempty"`
	// Action is what the last reconcile did with it.
	Action machines.Action `json:"action"`
	// Error says why it failed or was refused.
	Error string `json:"error,omitempty"`
	// Verified is true when its files verify against the entry now.
	Verified bool `json:"verified"`
	// State is the machine's current state, where the host knows it (Choria).
	State string `json:"state,omitempty"`
	// Rollout is where the entry's staged change stands here, when it has a rollout policy.
	Rollout *nodeloop.RolloutStatus `json:"rollout,omitempty"`
}

// Repair is one repair of drift: a machine whose files had been changed or removed.
type Repair struct {
	Machine string    `json:"machine"`
	At      time.Time `json:"at"`
}

// FreshFor is how long a status published every heartbeat (0: DefaultHeartbeat) stays
// current: past it a reader counts the node offline, and the rollout gate stops waiting on it.
func FreshFor(heartbeat time.Duration) time.Duration {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	return freshHeartbeats * heartbeat
}

// FreshUntil is when s stops being current: past it, a reader counts the node offline.
func (s *Status) FreshUntil() time.Time {
	return s.ReportedAt.Add(time.Duration(s.FreshForMS) * time.Millisecond)
}
