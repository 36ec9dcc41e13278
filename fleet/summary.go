package fleet

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// State is how a reader sees one node against the published specification.
type State string

// The states, in the order a reader shows them.
const (
	// StateConverged: the node acts on the published specification and every entry for it
	// verifies.
	StateConverged State = "converged"
	// StateStraggler: the node reports, but not on the published specification yet, or still
	// converging on it.
	StateStraggler State = "straggler"
	// StateFailed: an entry for the node was refused or failed.
	StateFailed State = "failed"
	// StateHeld: a staged change of the specification halted or was taken back on the node,
	// which stays on the version before it (see its machines' rollout).
	StateHeld State = "held"
	// StateRefused: the node refused the newest specification.
	StateRefused State = "refused"
	// StateOffline: the node's newest status is past its freshness: it stopped reporting.
	StateOffline State = "offline"
)

// States lists the states in the order a reader shows them.
var States = []State{StateConverged, StateStraggler, StateHeld, StateFailed, StateRefused, StateOffline}

// Target is the specification the fleet should be on: the published one.
type Target struct {
	// Revision is the published revision of the specification key; 0 when unknown.
	Revision uint64 `json:"revision,omitempty"`
	// Digest is the published payload's sha256 hex: when known, it decides.
	Digest string `json:"digest,omitempty"`
	// Version is its v2 version; 0 for v1 or unknown.
	Version int64 `json:"version,omitempty"`
}

// Node is one node as a reader sees it.
type Node struct {
	Status
	// State is how it stands against the target.
	State State `json:"state"`
	// AgeSeconds is how long ago it reported.
	AgeSeconds int64 `json:"age_s"`
}

// Summary is the fleet against a target.
type Summary struct {
	Target Target `json:"target"`
	// Nodes are the nodes that matched the filter, by identity.
	Nodes []Node `json:"nodes"`
	// Counts counts them by state.
	Counts map[State]int `json:"counts"`
	// Converged is true when at least one node reports and every node that reports is
	// converged (offline ones aside).
	Converged bool `json:"converged"`
}

// Filter picks nodes: each field that is set must match.
type Filter struct {
	// Identity is a regular expression a node's identity must match.
	Identity *regexp.Regexp
	// Machine is the name of a machine the node must report.
	Machine string
	// State is the state the node must be in.
	State State
}

// Summarize classifies statuses against target at now, keeping those f picks. With a zero
// target, the newest version and revision any node accepted is the target.
func Summarize(statuses []Status, target Target, f Filter, now time.Time) Summary {
	if target == (Target{}) {
		for _, s := range statuses {
			if s.Spec != nil && (s.Spec.Version > target.Version || s.Spec.Version == target.Version && s.Spec.Revision > target.Revision) {
				target = Target{Revision: s.Spec.Revision, Version: s.Spec.Version, Digest: s.Spec.Digest}
			}
		}
	}
	sum := Summary{Target: target, Nodes: []Node{}, Counts: map[State]int{}}
	reporting, converged := 0, 0
	for _, s := range statuses {
		n := Node{Status: s, State: classify(s, target, now), AgeSeconds: int64(now.Sub(s.ReportedAt) / time.Second)}
		if !f.picks(n) {
			continue
		}
		sum.Nodes = append(sum.Nodes, n)
		sum.Counts[n.State]++
		if n.State != StateOffline {
			reporting++
		}
		if n.State == StateConverged {
			converged++
		}
	}
	sum.Converged = reporting > 0 && converged == reporting
	slices.SortFunc(sum.Nodes, func(a, b Node) int { return strings.Compare(a.Identity, b.Identity) })
	return sum
}

// classify says how s stands against target at now.
func classify(s Status, target Target, now time.Time) State {
	switch {
	case now.After(s.FreshUntil()):
		return StateOffline
	case s.Outcome == OutcomeRefused:
		return StateRefused
	case s.Outcome == OutcomeFailed:
		return StateFailed
	case s.Outcome == OutcomeHeld && s.Spec != nil && onTarget(*s.Spec, target):
		return StateHeld
	case s.Spec == nil || !onTarget(*s.Spec, target) || s.Outcome != OutcomeConverged:
		return StateStraggler
	}
	return StateConverged
}

// onTarget reports whether spec is the target specification: by payload digest when both
// say it, else by revision, else by version.
func onTarget(spec SpecRef, target Target) bool {
	switch {
	case target.Digest != "" && spec.Digest != "":
		return spec.Digest == target.Digest
	case target.Revision != 0 && spec.Revision == target.Revision:
		return true
	}
	return target.Version != 0 && spec.Version == target.Version
}

func (f Filter) picks(n Node) bool {
	if f.Identity != nil && !f.Identity.MatchString(n.Identity) {
		return false
	}
	if f.State != "" && n.State != f.State {
		return false
	}
	if f.Machine != "" && !slices.ContainsFunc(n.Machines, func(m Machine) bool { return m.Name == f.Machine }) {
		return false
	}
	return true
}
