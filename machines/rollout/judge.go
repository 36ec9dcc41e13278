package rollout

import (
	"fmt"
	"time"
)

// WaveCount is what the nodes of one wave said of one change, from the counters they keep
// themselves (package gate reads them).
type WaveCount struct {
	// Members are the nodes of the wave that saw the change and will take it when the gate
	// lets them; Took those that installed it.
	Members, Took int64
	// Healthy and Unhealthy are those whose health check decided; a node counted healthy and
	// later unhealthy moves from one to the other. Reverted are those that took it back.
	Healthy, Unhealthy, Reverted int64
	// Changed is when any of the wave's counters last changed; HealthChanged when Healthy or
	// Unhealthy did. Zero when never.
	Changed, HealthChanged time.Time
}

// Tally is the counts of one change, by wave (index 0 is the first wave).
type Tally []WaveCount

// Total adds up the waves.
func (t Tally) Total() WaveCount {
	var sum WaveCount
	for _, w := range t {
		sum.Members += w.Members
		sum.Took += w.Took
		sum.Healthy += w.Healthy
		sum.Unhealthy += w.Unhealthy
		sum.Reverted += w.Reverted
		sum.Changed = later(sum.Changed, w.Changed)
		sum.HealthChanged = later(sum.HealthChanged, w.HealthChanged)
	}
	return sum
}

// Wave returns the count of wave k, zero when no node of it said anything.
func (t Tally) Wave(k int) WaveCount {
	if k < 0 || k >= len(t) {
		return WaveCount{}
	}
	return t[k]
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Note is one control of a change: who asked, why, when.
type Note struct {
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Controls are what operators (and, for a halt, the nodes) said of a change. Resumed and
// PromotedTo come only from signatures the node verified.
type Controls struct {
	// Halted is set once a node saw the failure budget exceeded; it stays.
	Halted *Note
	// Paused stops the next waves, unless Resumed is later than it.
	Paused, Resumed *Note
	// PromotedTo opens the waves up to this one (1-based) without waiting; 0 for none.
	PromotedTo int
}

// Gate is what one node weighs before it takes a change.
type Gate struct {
	// Wave is the node's wave, 0 for the first.
	Wave int
	// Bake is how long the earlier waves must have stayed healthy.
	Bake time.Duration
	// Budget is the policy's max_unhealthy.
	Budget Budget
	// Quiet is how long a wave's counters must stay unchanged before the nodes that said
	// nothing since are taken for offline and not waited on: the fleet status's freshness.
	Quiet time.Duration
	// Seen is when this node first saw the change.
	Seen time.Time
}

// RegistrationGrace bounds how long a node of a later wave waits, after it first saw a
// change, for the nodes of the earlier waves to say they will take it: when the earlier
// waves are still empty by then they are taken for empty. It is the bake when that is
// shorter.
const RegistrationGrace = 10 * time.Second

// Verdict is the gate's answer.
type Verdict struct {
	// Open says the node may install the change now.
	Open bool
	// Halted says the change is halted: no node installs it, and those that did revert (as
	// the policy's on_halt says).
	Halted bool
	// Paused says an operator paused it.
	Paused bool
	// Reason says why it is not open (or why it is, when promoted), for people.
	Reason string
	// Until, when set, is when the gate may open if nothing changes: the bake's end, or the
	// moment the silent nodes of an earlier wave are taken for offline.
	Until time.Time
}

// Exceeded says whether the change is past its failure budget, and how, for people.
func (g Gate) Exceeded(t Tally) (bool, string) {
	total := t.Total()
	if !g.Budget.Exceeded(int(total.Unhealthy), int(total.Took)) {
		return false, ""
	}
	return true, fmt.Sprintf("%d of the %d nodes that took it are unhealthy, beyond max_unhealthy %s", total.Unhealthy, total.Took, g.Budget)
}

// Judge says whether the node may take the change now, from the counts and controls read at
// now. The first wave opens at once; wave k opens once every earlier wave's members have all
// reported their health (or its counters stayed unchanged for Quiet: the rest are offline),
// the last health report of the earlier waves is Bake old, the unhealthy are within budget,
// and nobody paused it; a signed promotion opens it at once. An earlier wave with no member
// counts as passed, once the node has waited RegistrationGrace (or Bake, if shorter) since it
// saw the change for its nodes to register.
func (g Gate) Judge(t Tally, c Controls, now time.Time) Verdict {
	if c.Halted != nil {
		return Verdict{Halted: true, Reason: "halted: " + c.Halted.Reason}
	}
	if over, why := g.Exceeded(t); over {
		return Verdict{Halted: true, Reason: "halted: " + why}
	}
	if c.Paused != nil && (c.Resumed == nil || !c.Resumed.At.After(c.Paused.At)) {
		return Verdict{Paused: true, Reason: fmt.Sprintf("paused by %s at %s: %s", orSomeone(c.Paused.By), c.Paused.At.UTC().Format(time.RFC3339), c.Paused.Reason)}
	}
	if g.Wave == 0 {
		return Verdict{Open: true, Reason: "first wave"}
	}
	if c.PromotedTo > g.Wave {
		return Verdict{Open: true, Reason: fmt.Sprintf("promoted to wave %d", c.PromotedTo)}
	}
	var lastHealth time.Time
	members := int64(0)
	for j := range g.Wave {
		w := t.Wave(j)
		members += w.Members
		lastHealth = later(lastHealth, w.HealthChanged)
		if pending := w.Members - w.Healthy - w.Unhealthy; pending > 0 && now.Sub(w.Changed) < g.Quiet {
			return Verdict{Reason: fmt.Sprintf("waits for wave %d: %d of its %d nodes have not reported healthy yet", j+1, pending, w.Members), Until: w.Changed.Add(g.Quiet)}
		}
	}
	if members == 0 {
		grace := min(g.Bake, RegistrationGrace)
		if until := g.Seen.Add(grace); now.Before(until) {
			return Verdict{Reason: "waits for the earlier waves' nodes to register", Until: until}
		}
		return Verdict{Open: true, Reason: "the earlier waves are empty"}
	}
	if until := lastHealth.Add(g.Bake); now.Before(until) {
		return Verdict{Reason: fmt.Sprintf("waits for the earlier waves to bake until %s", until.UTC().Format(time.RFC3339)), Until: until}
	}
	return Verdict{Open: true, Reason: fmt.Sprintf("the earlier waves baked healthy for %s", g.Bake)}
}

func orSomeone(by string) string {
	if by == "" {
		return "an operator"
	}
	return by
}
