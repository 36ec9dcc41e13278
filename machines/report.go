package machines

import (
	"time"
)

// Action is what a reconcile decided, or did, for one entry or one managed machine.
type Action string

const (
	// ActionInstall installs an entry that is not on disk yet.
	ActionInstall Action = "install"
	// ActionUpdate replaces an installed machine with a different archive.
	ActionUpdate Action = "update"
	// ActionKeep leaves an installed machine that verifies as it is.
	ActionKeep Action = "keep"
	// ActionRepair replaces an installed machine whose files no longer verify.
	ActionRepair Action = "repair"
	// ActionAdopt records as managed a machine already on disk that verifies against its entry.
	ActionAdopt Action = "adopt"
	// ActionSkip leaves an entry whose matcher is false on this node.
	ActionSkip Action = "skip"
	// ActionRefuse refuses an entry, with the reason; nothing on disk changes for it.
	ActionRefuse Action = "refuse"
	// ActionRemove purges a managed machine the specification no longer wants.
	ActionRemove Action = "remove"
	// ActionWait holds back an entry's change that its rollout's gate does not admit yet (or
	// ever, once halted or reverted here); what is installed stays as it is.
	ActionWait Action = "wait"
	// ActionRevert takes back an entry's change that its rollout says to: the previous version,
	// kept when the change was installed, is swapped back (or, with none, the machine removed).
	ActionRevert Action = "revert"

	// The actions below concern go-choria's own managers (see decideTakeover in decide.go).

	// ActionReplace records as managed a machine that go-choria's manager installed in an
	// older version than the entry's; a later reconcile updates it.
	ActionReplace Action = "replace"
	// ActionDefer leaves an entry's machine as it is until a later reconcile, because a
	// go-choria manager that would fight the change is being retired.
	ActionDefer Action = "defer"
	// ActionRetire removes go-choria's manager directory (mm_<name>) of a machine mms took over.
	ActionRetire Action = "retire"
	// ActionLeave reports a directory named like a go-choria manager that mms leaves alone.
	ActionLeave Action = "leave"
)

// Result is the outcome of one entry or managed machine in a reconcile.
type Result struct {
	// Name is the entry or machine name.
	Name string `json:"name"`
	// Action is what was planned; when Err is set it did not complete.
	Action Action `json:"action"`
	// Reason says why, in words an operator reads in a log.
	Reason string `json:"reason,omitempty"`
	// Err is the failure, when the action failed or was refused.
	Err error `json:"-"`
	// Duration is how long carrying out the action took.
	Duration time.Duration `json:"duration"`
	// Checksum is the archive checksum of the entry the step acted on (for ActionReplace,
	// the one go-choria installed); empty for a machine removed because the specification
	// no longer names it.
	Checksum string `json:"checksum,omitempty"`
	// RetryAt, for a download that failed, is when the node attempts it again at the
	// earliest (Config.Retry); zero when nothing remembers the failure (mms apply).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Installed is, for ActionWait and ActionRevert, the archive checksum of the version the
	// machine stays on or went back to; empty when it has none (a first install waits, a
	// first install taken back is removed).
	Installed string `json:"installed,omitempty"`
	// FromCache is true when the download step took the archive from the archive cache
	// (Config.CacheMaxBytes) instead of fetching it.
	FromCache bool `json:"from_cache,omitempty"`
}

// resultOf is the result of step before it is carried out.
func resultOf(step Step) Result {
	r := Result{Name: step.Name, Action: step.Action, Reason: step.Reason, Checksum: step.Entry.Checksum}
	if step.Action == ActionWait {
		r.Installed = step.Installed
	}
	return r
}

// Failed tells whether the action was refused or did not complete.
func (r Result) Failed() bool { return r.Err != nil || r.Action == ActionRefuse }

// Changed tells whether the action changed the machines directory.
func (r Result) Changed() bool {
	if r.Failed() {
		return false
	}
	switch r.Action {
	case ActionInstall, ActionUpdate, ActionRepair, ActionRemove, ActionRetire, ActionRevert:
		return true
	}
	return false
}

// Report is the outcome of one reconcile of a machines directory.
type Report struct {
	// Format is the payload format of the specification (1 or 2); 0 when none was accepted.
	Format int `json:"format"`
	// Version is the v2 specification version; 0 for v1.
	Version int64 `json:"version"`
	// Digest is the sha256 hex of the specification's payload, once it parsed.
	Digest string `json:"digest,omitempty"`
	// Signed says whether the specification's signature was verified by a trusted key.
	Signed bool `json:"signed"`
	// Unknown lists fields this node does not know, seen in the specification (ignored).
	Unknown []string `json:"unknown_fields,omitempty"`
	// Results holds one result per entry and per removed machine, in name order.
	Results []Result `json:"results"`
	// Err is set when the specification as a whole was refused: nothing on disk changed.
	Err error `json:"-"`
	// Started is when the reconcile began.
	Started time.Time `json:"started"`
	// Duration is how long the whole reconcile took.
	Duration time.Duration `json:"duration"`
}

// Failed tells whether the specification was refused or any entry failed.
func (r *Report) Failed() bool {
	if r.Err != nil {
		return true
	}
	for _, res := range r.Results {
		if res.Failed() {
			return true
		}
	}
	return false
}

// Changed tells whether anything on disk changed.
func (r *Report) Changed() bool {
	for _, res := range r.Results {
		if res.Changed() {
			return true
		}
	}
	return false
}
