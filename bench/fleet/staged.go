package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// The staged-rollout scenarios: web goes from version 1 to a version with a rollout policy.
const (
	scenarioStagedGood  = "staged-good"  // version 2 is healthy: wave by wave to every node
	scenarioStagedBad   = "staged-bad"   // version "bad" never becomes healthy: halted and taken back
	scenarioStagedPause = "staged-pause" // version 2, paused after the first wave, resumed by a signed word
)

// isStaged tells whether scenario is one of the staged ones.
func isStaged(scenario string) bool {
	return scenario == scenarioStagedGood || scenario == scenarioStagedBad || scenario == scenarioStagedPause
}

// badVersion is the machine version the simulated health check never finds healthy.
const badVersion = "bad"

// simHealth is the simulated nodes' health check: a machine is healthy unless its
// machine.yaml says the bad version, which never becomes healthy (until its deadline).
func simHealth(dir string) nodeloop.HealthFunc {
	return func(_ context.Context, machine string, _ rollout.Policy, _ time.Time) (nodeloop.Health, string) {
		b, err := os.ReadFile(filepath.Join(dir, machine, "machine.yaml"))
		switch {
		case err != nil:
			return nodeloop.HealthPending, err.Error()
		case strings.Contains(string(b), "version: "+badVersion+"\n"):
			return nodeloop.HealthPending, "the bad version never gets healthy"
		}
		return nodeloop.HealthGood, "running"
	}
}

// The staged scenarios' policy when the options say nothing (the flags' defaults).
const (
	defaultWaves    = "1%,10%,50%,100%"
	defaultBake     = "1s"
	defaultDeadline = "2s"
	defaultPoll     = 5 * time.Second
)

// stagedPolicy is the policy of the measured change, from the flags.
func stagedPolicy(o options) (*rollout.Policy, error) {
	o.Waves, o.Bake, o.Deadline = cmp.Or(o.Waves, defaultWaves), cmp.Or(o.Bake, defaultBake), cmp.Or(o.Deadline, defaultDeadline)
	waves := `"` + strings.Join(strings.Split(o.Waves, ","), `","`) + `"`
	p, err := rollout.ParsePolicy(fmt.Appendf(nil, `{"waves":[%s],"bake":%q,"healthy_deadline":%q,"max_unhealthy":"0"}`, waves, o.Bake, o.Deadline))
	if err != nil {
		return nil, fmt.Errorf("-waves, -bake, -deadline: %w", err)
	}
	return &p, nil
}

// stagedProbe records, per node, when it first installed the measured change, reverted it,
// and reported it halted.
type stagedProbe struct {
	checksum string
	mu       sync.Mutex
	took     map[int]time.Time
	reverted map[int]time.Time
	halted   map[int]time.Time
}

func newStagedProbe(checksum string) *stagedProbe {
	return &stagedProbe{checksum: checksum, took: map[int]time.Time{}, reverted: map[int]time.Time{}, halted: map[int]time.Time{}}
}

// observe is called by node i's loop after each reconcile.
func (p *stagedProbe) observe(i int, o nodeloop.Outcome) {
	if o.Report == nil || o.Report.Err != nil {
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range o.Report.Results {
		if r.Name != "web" || r.Checksum != p.checksum || r.Failed() {
			continue
		}
		first := func(m map[int]time.Time) {
			if _, ok := m[i]; !ok {
				m[i] = now
			}
		}
		switch {
		case r.Action == machines.ActionUpdate:
			first(p.took)
		case r.Action == machines.ActionRevert:
			first(p.reverted)
		}
	}
}

// moved is told when the staged change moved on node i between reconciles: it records when
// the node learnt of the halt.
func (p *stagedProbe) moved(i int, st *nodeloop.Staging) {
	if r := st.Status("web", p.checksum); r == nil || r.Phase != nodeloop.PhaseHalted {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.halted[i]; !ok {
		p.halted[i] = time.Now()
	}
}

// stagedRun is what run hands the staged scenarios once the fleet is on version 1.
type stagedRun struct {
	o     options
	js    jetstream.JetStream
	sign  *signer
	entry spec.Entry // the measured change, with its policy
	// plain, when set, is a change without a policy the fleet takes first, all at once: how
	// long installing takes on this machine, apart from staging.
	plain   *spec.Entry
	warmRev uint64
	current *atomic.Pointer[phase]
	probe   *atomic.Pointer[stagedProbe]
	say     func(format string, a ...any)
}

// waveOf is node i's wave of the measured change.
func (s stagedRun) waveOf(i int) int {
	return s.entry.Rollout.Waves.WaveOf(identity(i), s.entry.Name, s.entry.Checksum)
}

// measure runs the scenario and returns its report, with its aims checked.
func (s stagedRun) measure(ctx context.Context) (*report, error) {
	var plainTook time.Duration
	if s.plain != nil {
		start := time.Now()
		rev, err := publishAndWait(ctx, s.js, s.sign, []spec.Entry{*s.plain}, s.o.Nodes, s.o.Timeout, s.current,
			func(_ int, rep *machines.Report) bool { return hasResult(rep, "web", machines.ActionUpdate) })
		if err != nil {
			return nil, fmt.Errorf("the plain update: %w", err)
		}
		plainTook = time.Since(start)
		s.warmRev = rev
		s.say("a plain update (no policy) reached every node in %s", plainTook.Round(time.Millisecond))
	}
	env, err := s.sign.pack(s.entry)
	if err != nil {
		return nil, err
	}
	probe := newStagedProbe(s.entry.Checksum)
	s.probe.Store(probe)
	var want func(int, *machines.Report) bool
	switch s.o.Scenario {
	case scenarioStagedBad:
		// Done once every node that took it took it back and every other knows of the halt
		// (which it learns between reconciles: see moved).
		want = nil
	default:
		want = func(_ int, rep *machines.Report) bool { return hasResult(rep, "web", machines.ActionUpdate) }
	}
	start := time.Now()
	var p *phase
	if want != nil {
		p = newPhase(s.o.Nodes, s.warmRev+1, start, want)
		s.current.Store(p)
	}
	pctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	cpu0 := cpuTime()
	if _, err := kvspec.Put(pctx, s.js, bucket, key, env, kvspec.BucketConfig{}); err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	g, err := gate.Open(pctx, s.js, gate.Options{})
	if err != nil {
		return nil, err
	}
	id := gate.ChangeID(s.entry.Name, s.entry.Checksum)
	rep := &report{}
	var extra []string
	switch s.o.Scenario {
	case scenarioStagedPause:
		if extra, err = s.pauseAndResume(pctx, g, id, probe, start); err != nil {
			return nil, err
		}
		rep.Problems = append(rep.Problems, extra...)
		extra = nil
	}
	var times []time.Duration
	if p != nil {
		if err := p.wait(pctx); err != nil {
			return nil, err
		}
		times = p.durations(func(int) bool { return true })
	} else if times, err = probe.waitSettled(pctx, s.o.Nodes, start); err != nil {
		return nil, err
	}
	rep.result = result{Nodes: s.o.Nodes, Latency: summarise(times), CPUSeconds: (cpuTime() - cpu0).Seconds(), RSSMiB: peakRSSMiB()}
	rep.Targets = s.o.Nodes
	switch s.o.Scenario {
	case scenarioStagedBad:
		extra, err = s.checkBad(pctx, g, id, probe, rep)
	default:
		extra, err = s.checkGood(pctx, g, id, probe, rep, start, plainTook)
	}
	if err != nil {
		return nil, err
	}
	rep.Extra = strings.Join(extra, " ")
	return rep, nil
}

// waitSettled waits until each of nodes either took the change back or learnt of its halt,
// and returns when each did, from start.
func (p *stagedProbe) waitSettled(ctx context.Context, nodes int, start time.Time) ([]time.Duration, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		var times []time.Duration
		for i := range nodes {
			at, ok := p.reverted[i]
			if _, took := p.took[i]; !took {
				at, ok = p.halted[i]
			}
			if ok {
				times = append(times, at.Sub(start))
			}
		}
		p.mu.Unlock()
		if len(times) == nodes {
			return times, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d nodes took the bad change back or saw the halt: %w", len(times), nodes, ctx.Err())
		case <-tick.C:
		}
	}
}

// bakes is how long the waves before the last wait, in sum: the least a staged rollout takes.
func (s stagedRun) bakes() time.Duration {
	return time.Duration(len(s.entry.Rollout.Waves)-1) * s.entry.Rollout.Bake
}

// checkGood checks that every node took the change no sooner than the gate allowed (every
// earlier wave healthy for the bake), and that the whole took the bakes plus under 2s.
func (s stagedRun) checkGood(ctx context.Context, g *gate.Store, id string, probe *stagedProbe, rep *report, start time.Time, plain time.Duration) ([]string, error) {
	tally, err := waitHealthy(ctx, g, id, s.o.Nodes)
	if err != nil {
		return nil, err
	}
	bake := s.entry.Rollout.Bake
	early := 0
	probe.mu.Lock()
	for i, at := range probe.took {
		k := s.waveOf(i)
		for j := range k {
			if w := tally.Wave(j); w.Members > 0 && at.Before(w.HealthChanged.Add(bake)) {
				early++
				if early <= 3 {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s (wave %d) installed at %s, before wave %d was healthy for the bake (since %s)",
						identity(i), k+1, at.Sub(start).Round(time.Millisecond), j+1, w.HealthChanged.Sub(start).Round(time.Millisecond)))
				}
			}
		}
	}
	probe.mu.Unlock()
	// Staging may cost the bakes and under 2s besides what installing itself takes here, which
	// the plain update measured (on a fleet simulated on a few cores, installing a thousand
	// nodes takes seconds whatever the order).
	overhead := rep.Latency.Max - s.bakes() - plain
	if s.o.Scenario == scenarioStagedGood && overhead > 2*time.Second {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the last node took it %s after the put: the bakes (%s) and the plain update's %s, plus %s (aim: under 2s)",
			rep.Latency.Max.Round(time.Millisecond), s.bakes(), plain.Round(time.Millisecond), overhead.Round(time.Millisecond)))
	}
	var sizes []string
	for k := range len(s.entry.Rollout.Waves) {
		sizes = append(sizes, fmt.Sprint(tally.Wave(k).Took))
		var first, last time.Time
		probe.mu.Lock()
		for i, at := range probe.took {
			if s.waveOf(i) == k {
				if first.IsZero() || at.Before(first) {
					first = at
				}
				last = maxTime(last, at)
			}
		}
		probe.mu.Unlock()
		s.say("wave %d: %d nodes took it from %s to %s; healthy by %s", k+1, tally.Wave(k).Took,
			first.Sub(start).Round(time.Millisecond), last.Sub(start).Round(time.Millisecond), tally.Wave(k).HealthChanged.Sub(start).Round(time.Millisecond))
	}
	s.say("converged wave by wave (%s nodes) %s after the put; the bakes sum to %s", strings.Join(sizes, "/"), rep.Latency.Max.Round(time.Millisecond), s.bakes())
	out := []string{"waves=" + strings.Join(sizes, "/"), fmt.Sprintf("bakes_ms=%d", s.bakes().Milliseconds()), fmt.Sprintf("early=%d", early)}
	if s.plain != nil {
		out = append(out, fmt.Sprintf("plain_ms=%d overhead_ms=%d", plain.Milliseconds(), overhead.Milliseconds()))
	}
	return out, nil
}

// waitHealthy reads the tally of change until nodes report healthy on it.
func waitHealthy(ctx context.Context, g *gate.Store, id string, nodes int) (rollout.Tally, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		tally, err := g.Tally(ctx, id)
		if err != nil {
			return nil, err
		}
		if tally.Total().Healthy >= int64(nodes) {
			return tally, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d nodes healthy: %w", tally.Total().Healthy, nodes, ctx.Err())
		case <-tick.C:
		}
	}
}

// checkBad checks that only the first wave took the bad change, that every node that did took
// it back within its deadline plus 1s, and that every other node saw the halt within 2s.
func (s stagedRun) checkBad(ctx context.Context, g *gate.Store, id string, probe *stagedProbe, rep *report) ([]string, error) {
	ctl, _, err := g.Controls(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if ctl.Halted == nil {
		return nil, errors.New("the bad change never halted")
	}
	deadline := s.entry.Rollout.HealthyDeadline
	probe.mu.Lock()
	defer probe.mu.Unlock()
	var haltedAfter time.Duration
	first := len(s.entry.Rollout.Waves)
	for i := range s.o.Nodes {
		first = min(first, s.waveOf(i)) // the first wave with nodes: the earlier are empty
	}
	for i, at := range probe.took {
		if k := s.waveOf(i); k != first {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s, of wave %d, installed the bad change (the first wave with nodes is %d)", identity(i), k+1, first+1))
		}
		back, ok := probe.reverted[i]
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s installed the bad change and never took it back", identity(i)))
		case back.Sub(at) > deadline+time.Second:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s took the bad change back %s after installing it, past its deadline %s plus 1s", identity(i), back.Sub(at).Round(time.Millisecond), deadline))
		}
	}
	for _, at := range probe.halted {
		haltedAfter = max(haltedAfter, at.Sub(ctl.Halted.At))
	}
	if haltedAfter > 2*time.Second {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the last node saw the halt %s after it was recorded, above 2s", haltedAfter.Round(time.Millisecond)))
	}
	if len(rep.Problems) > 10 {
		rep.Problems = append(rep.Problems[:10], fmt.Sprintf("… and %d more", len(rep.Problems)-10))
	}
	s.say("halted (%s); %d nodes took it, %d took it back, %d saw the halt, the last %s after it was recorded", ctl.Halted.Reason, len(probe.took), len(probe.reverted), len(probe.halted), haltedAfter.Round(time.Millisecond))
	return []string{fmt.Sprintf("installed_max=%d reverted=%d halted_after_ms=%d", len(probe.took), len(probe.reverted), haltedAfter.Milliseconds())}, nil
}

// pauseAndResume pauses the change once the first wave is healthy, checks that no later wave
// starts for three bakes, then resumes it with a signed word. It returns the aims missed.
func (s stagedRun) pauseAndResume(ctx context.Context, g *gate.Store, id string, probe *stagedProbe, start time.Time) ([]string, error) {
	first := 0
	for i := range s.o.Nodes {
		if s.waveOf(i) == 0 {
			first++
		}
	}
	if _, err := waitHealthy(ctx, g, id, first); err != nil {
		return nil, fmt.Errorf("the first wave: %w", err)
	}
	if err := g.Put(ctx, gate.Control{Action: gate.ActionPause, Change: id, Entry: s.entry.Name, By: "bench/fleet", Reason: "the simulator pauses after the first wave"}, nil); err != nil {
		return nil, err
	}
	paused := time.Now()
	hold := 3 * s.entry.Rollout.Bake
	s.say("paused %s after the put, once the %d nodes of the first wave were healthy; holding %s", paused.Sub(start).Round(time.Millisecond), first, hold)
	time.Sleep(hold) // the window in which nothing may happen, not a wait for something
	var problems []string
	probe.mu.Lock()
	later := 0
	for i, at := range probe.took {
		if s.waveOf(i) > 0 && at.After(paused.Add(s.o.RolloutPoll)) {
			later++
		}
	}
	probe.mu.Unlock()
	if later > 0 {
		problems = append(problems, fmt.Sprintf("%d nodes of later waves installed while the rollout was paused", later))
	}
	if err := g.Put(ctx, gate.Control{Action: gate.ActionResume, Change: id, Entry: s.entry.Name, By: "bench/fleet", Reason: "the simulator resumes"}, s.sign.priv); err != nil {
		return nil, err
	}
	s.say("resumed with a signed word %s after the put; %d nodes of later waves had installed while paused", time.Since(start).Round(time.Millisecond), later)
	return problems, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
