package nodeloop

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// rolloutGate opens the rollout gate on f's server, creating its stream and bucket.
func (f *fixture) rolloutGate() *gate.Store {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	g, err := gate.Ensure(ctx, f.js, gate.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

// stagedPolicy is the policy of the staged tests: one node of three in the first wave
// (mostly), a short bake, any unhealthy node halts.
func stagedPolicy(t *testing.T) *rollout.Policy {
	t.Helper()
	p, err := rollout.ParsePolicy([]byte(`{"waves":["34%","100%"],"bake":"300ms","healthy_deadline":"3s","max_unhealthy":"0"}`))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// stagedEntry serves a machine name saying text+suffix, with the suffix chosen so that
// exactly one of nodes is in the first wave of p for it.
func (f *fixture) stagedEntry(name, text string, p *rollout.Policy, nodes []string) (spec.Entry, string) {
	f.t.Helper()
	e, byWave := f.stagedEntryWhere(name, text, p, nodes, func(byWave [][]string) bool { return len(byWave[0]) == 1 })
	return e, byWave[0][0]
}

// stagedEntryWhere serves a machine name saying text+suffix, with the suffix chosen so that
// the nodes drawn in each wave of p (byWave) please want.
func (f *fixture) stagedEntryWhere(name, text string, p *rollout.Policy, nodes []string, want func(byWave [][]string) bool) (spec.Entry, [][]string) {
	f.t.Helper()
	for i := range 200 {
		e := f.entry(name, fmt.Sprintf("%s-%d", text, i))
		byWave := make([][]string, len(p.Waves))
		for _, n := range nodes {
			w := p.Waves.WaveOf(n, e.Name, e.Checksum)
			byWave[w] = append(byWave[w], n)
		}
		if want(byWave) {
			e.Rollout = p
			return e, byWave
		}
	}
	f.t.Fatal("no archive puts the nodes in the waves wanted")
	return spec.Entry{}, nil
}

// sayHealth is the health of the staged tests: a machine saying good-… is healthy, bad-… is
// unhealthy at once, anything else not yet.
func sayHealth(dir string) HealthFunc {
	return func(_ context.Context, machine string, _ rollout.Policy, _ time.Time) (Health, string) {
		b, _ := os.ReadFile(filepath.Join(dir, machine, "say.txt"))
		switch {
		case strings.HasPrefix(string(b), "good-"):
			return HealthGood, "says good"
		case strings.HasPrefix(string(b), "bad-"):
			return HealthBad, "says bad"
		}
		return HealthPending, "says " + string(b)
	}
}

// stagedNode runs a loop with a staging controller over a fresh directory.
type stagedNode struct {
	id, dir string
	obs     *observed
	staging *Staging
}

func (f *fixture) stagedNodes(ids []string) []*stagedNode {
	return f.stagedNodesPolling(ids, 50*time.Millisecond)
}

// stagedNodesPolling is stagedNodes with the nodes' rollout_poll.
func (f *fixture) stagedNodesPolling(ids []string, poll time.Duration) []*stagedNode {
	f.t.Helper()
	g := f.rolloutGate()
	var nodes []*stagedNode
	for _, id := range ids {
		n := &stagedNode{id: id, dir: f.t.TempDir()}
		n.obs = f.start(n.dir, time.Hour, func(l *Loop) {
			l.Staging = &Staging{Identity: id, Keys: l.Config.Trust.Keys, Health: sayHealth(n.dir), Quiet: 10 * time.Second,
				Poll: poll, Marks: &Marks{Path: filepath.Join(n.dir, ".mms", "rollouts.json")}, Logger: l.Config.Logger}
			l.Staging.SetGate(g, "")
			n.staging = l.Staging
		})
		nodes = append(nodes, n)
	}
	return nodes
}

// says returns what machine web says on the node, "" when it is not installed.
func (n *stagedNode) says() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "web", "say.txt"))
	return string(b)
}

// waitSays waits until the node's web says text.
func (n *stagedNode) waitSays(t *testing.T, text string) {
	t.Helper()
	n.obs.wait(t, n.id+" saying "+text, func([]Outcome, []string) bool { return n.says() == text })
}

// anyResult tells whether any result for web at checksum among outs is a successful a.
func anyResult(outs []Outcome, checksum string, a machines.Action) bool {
	for _, o := range outs {
		if o.Report == nil {
			continue
		}
		for _, r := range o.Report.Results {
			if r.Name == "web" && r.Checksum == checksum && r.Action == a && !r.Failed() {
				return true
			}
		}
	}
	return false
}

// result returns the last result for web at checksum among outs, and whether there is one.
func result(outs []Outcome, checksum string) (machines.Result, bool) {
	for i := len(outs) - 1; i >= 0; i-- {
		if outs[i].Report == nil {
			continue
		}
		for _, r := range outs[i].Report.Results {
			if r.Name == "web" && r.Checksum == checksum {
				return r, true
			}
		}
	}
	return machines.Result{}, false
}

func TestStagedRolloutGoesWaveByWaveAndTakesABadChangeBack(t *testing.T) {
	f := newFixture(t)
	ids := []string{"node-1", "node-2", "node-3"}
	nodes := f.stagedNodes(ids)
	byID := map[string]*stagedNode{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	p := stagedPolicy(t)

	v1 := f.entry("web", "plain")
	f.put(nil, v1)
	for _, n := range nodes {
		n.waitSays(t, "plain")
	}

	// A good change: the first wave's node takes it at once, the others once it has been
	// healthy for the bake.
	good, canary := f.stagedEntry("web", "good", p, ids)
	f.put(nil, good)
	goodText := byID[canary].waitSaysPrefix(t, "good-")
	for _, n := range nodes {
		n.waitSays(t, goodText)
	}
	g := f.rolloutGate()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	tally := waitTally(t, g, gate.ChangeID("web", good.Checksum), func(t rollout.Tally) bool { return t.Total().Healthy == 3 })
	if len(tally) != 2 || tally[0].Members != 1 || tally[0].Took != 1 || tally[0].Healthy != 1 || tally[1].Took != 2 || tally[1].Healthy != 2 {
		t.Fatalf("the good change's tally is %+v", tally)
	}
	for _, n := range nodes {
		if n.id == canary {
			continue
		}
		marks := (&Marks{Path: filepath.Join(n.dir, ".mms", "rollouts.json")}).Load(slog.New(slog.DiscardHandler))
		m := marks[gate.ChangeID("web", good.Checksum)]
		if m.Wave != 1 || m.InstalledAt.Before(tally[0].HealthChanged.Add(p.Bake)) {
			t.Fatalf("%s (wave %d) installed at %v, before the first wave was healthy (%v) for the bake %v", n.id, m.Wave+1, m.InstalledAt, tally[0].HealthChanged, p.Bake)
		}
		if r, ok := result(n.obs.snapshot(), good.Checksum); !ok || r.Action != machines.ActionUpdate && r.Action != machines.ActionKeep {
			t.Fatalf("%s's last result for the good change: %+v", n.id, r)
		}
	}

	// A bad change: the first wave's node takes it, finds it unhealthy and goes back to the
	// good version; the halt keeps it from every other node.
	bad, badCanary := f.stagedEntry("web", "bad", p, ids)
	f.put(nil, bad)
	c := byID[badCanary]
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range c.obs.snapshotLogs() {
				t.Log(l)
			}
		}
	})
	c.obs.wait(t, "the canary reverting", func(outs []Outcome, _ []string) bool {
		return anyResult(outs, bad.Checksum, machines.ActionRevert)
	})
	c.waitSays(t, goodText)
	st, err := install.Inspect(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := st.Managed("web"); m.Checksum != good.Checksum {
		t.Fatalf("after the revert the record says %s, want the good %s", m.Checksum, good.Checksum)
	}
	st.Close()
	for _, n := range nodes {
		if n == c {
			continue
		}
		n.obs.wait(t, n.id+" holding the halted change back", func(_ []Outcome, logs []string) bool {
			return count(logs, "the rollout halted before this node took the change") > 0
		})
		if st := n.staging.Status("web", bad.Checksum); st == nil || st.Phase != PhaseHalted || !strings.Contains(st.Reason, "max_unhealthy 0") {
			t.Fatalf("%s's status of the halted change: %+v", n.id, st)
		}
		if anyResult(n.obs.snapshot(), bad.Checksum, machines.ActionUpdate) {
			t.Fatalf("%s installed the halted change", n.id)
		}
		if n.says() != goodText {
			t.Fatalf("%s says %q, want the good version", n.id, n.says())
		}
	}
	tally = waitTally(t, g, gate.ChangeID("web", bad.Checksum), func(t rollout.Tally) bool { return t.Total().Reverted == 1 })
	total := tally.Total()
	if total.Took != 1 || total.Unhealthy != 1 || total.Reverted != 1 || tally.Wave(1).Took != 0 {
		t.Fatalf("the bad change's tally is %+v", tally)
	}
	// The good change, superseded, is not judged by the bad one's health.
	if gt, err := g.Tally(ctx, gate.ChangeID("web", good.Checksum)); err != nil || gt.Total().Unhealthy != 0 || gt.Total().Reverted != 0 {
		t.Fatalf("the superseded good change's tally is %+v, %v", gt, err)
	}
	defer func() {
		// A specification without web ends every watch over its changes: nothing reads their
		// gate again.
		rev := f.put(nil, f.entry("other", "x"))
		for _, n := range nodes {
			n.obs.wait(t, n.id+" reconciling the specification without web", func(outs []Outcome, _ []string) bool {
				_, ok := lastFor(outs, rev, TriggerSpecification)
				return ok
			})
			if _, inFlight := n.staging.inFlight(); len(inFlight) != 0 {
				t.Errorf("%s still watches %d changes of an entry the specification dropped", n.id, len(inFlight))
			}
		}
	}()
	ctl, _, err := g.Controls(ctx, gate.ChangeID("web", bad.Checksum), nil)
	if err != nil || ctl.Halted == nil || !strings.Contains(ctl.Halted.Reason, "max_unhealthy 0") {
		t.Fatalf("the bad change's controls: %+v, %v", ctl, err)
	}
}

// waitSaysPrefix waits until the node's web says something starting with prefix, and returns it.
func (n *stagedNode) waitSaysPrefix(t *testing.T, prefix string) string {
	t.Helper()
	n.obs.wait(t, n.id+" saying "+prefix+"…", func([]Outcome, []string) bool { return strings.HasPrefix(n.says(), prefix) })
	return n.says()
}

// waitTally waits until the tally of change satisfies cond, and returns it.
func waitTally(t *testing.T, g *gate.Store, change string, cond func(rollout.Tally) bool) rollout.Tally {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		tally, err := g.Tally(ctx, change)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if cond(tally) {
			return tally
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tally of change %s stays %+v", change, tally)
		}
		time.Sleep(20 * time.Millisecond) // the nodes count on their own; nothing to wait on
	}
}

// The last report of a wave may be unhealthy and within the budget: the node that made it
// tells the next wave when to start, as a healthy one would, and the next wave does not wait
// for its poll (an hour here).
func TestAnUnhealthyReportWithinTheBudgetHintsTheNextWave(t *testing.T) {
	f := newFixture(t)
	ids := []string{"node-1", "node-2", "node-3"}
	nodes := f.stagedNodesPolling(ids, time.Hour)
	p, err := rollout.ParsePolicy([]byte(`{"waves":["34%","100%"],"bake":"200ms","healthy_deadline":"3s","max_unhealthy":"5"}`))
	if err != nil {
		t.Fatal(err)
	}
	f.put(nil, f.entry("web", "plain"))
	for _, n := range nodes {
		n.waitSays(t, "plain")
	}
	bad, canary := f.stagedEntry("web", "bad", &p, ids)
	f.put(nil, bad)
	for _, n := range nodes {
		if n.id == canary {
			continue
		}
		n.obs.wait(t, n.id+" (second wave) installing after the canary's unhealthy report", func(outs []Outcome, _ []string) bool {
			return anyResult(outs, bad.Checksum, machines.ActionUpdate)
		})
	}
}

// A node killed after the swap of a staged change and before it counted the install comes
// back with the change on disk and its mark still waiting: it counts the install then, and
// its health, rather than leave its wave waiting on it (the gate here never got the counts).
func TestAStagedInstallNotCountedBeforeARestartIsCountedAfter(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	marks := &Marks{Path: filepath.Join(dir, ".mms", "rollouts.json")}
	g := f.rolloutGate()
	node := func(ctx context.Context) (*observed, *Staging) {
		var st *Staging
		obs := f.run(ctx, dir, time.Hour, func(l *Loop) {
			st = &Staging{Identity: "node-1", Keys: l.Config.Trust.Keys, Health: sayHealth(dir), Quiet: time.Hour,
				Poll: 50 * time.Millisecond, Marks: marks, Logger: l.Config.Logger}
			st.SetGate(g, "")
			l.Staging = st
		})
		return obs, st
	}
	p, err := rollout.ParsePolicy([]byte(`{"waves":["100%"],"bake":"100ms","healthy_deadline":"3s","max_unhealthy":"0"}`))
	if err != nil {
		t.Fatal(err)
	}
	good := f.entry("web", "good-1")
	good.Rollout = &p
	id := gate.ChangeID("web", good.Checksum)

	runCtx, stop := context.WithCancel(context.Background())
	obs, st := node(runCtx)
	f.put(nil, good)
	obs.wait(t, "the change healthy", func([]Outcome, []string) bool {
		s := st.Status("web", good.Checksum)
		return s != nil && s.Phase == PhaseHealthy
	})
	stop()
	obs.stopped(t)

	// What a kill between the swap and the count leaves: the machine on disk, and the mark
	// registered and waiting. (Whether the counts reached the gate, the node cannot tell: it
	// sends them again, and the gate counts each once.)
	m := marks.Load(slog.New(slog.DiscardHandler))
	mk := m[id]
	mk.Phase, mk.Took, mk.Healthy, mk.InstalledAt, mk.Reason = PhaseWaiting, false, false, time.Time{}, ""
	m[id] = mk
	if err := marks.Save(m); err != nil {
		t.Fatal(err)
	}
	told, err := f.nc.SubscribeSync("mms.rollout." + id + ".>")
	if err != nil {
		t.Fatal(err)
	}
	defer told.Unsubscribe()

	obs, st = node(t.Context())
	obs.wait(t, "the change counted and healthy again", func(_ []Outcome, logs []string) bool {
		s := st.Status("web", good.Checksum)
		return s != nil && s.Phase == PhaseHealthy && count(logs, "was not counted") == 1
	})
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	defer cancel()
	sent := map[string]bool{}
	for !sent["took"] || !sent["healthy"] {
		msg, err := told.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("the restarted node told the gate %v: %v", sent, err)
		}
		sent[msg.Subject[strings.LastIndex(msg.Subject, ".")+1:]] = true
	}
	tally := waitTally(t, g, id, func(t rollout.Tally) bool { return t.Wave(0).Healthy == 1 })
	if w := tally.Wave(0); w.Members != 1 || w.Took != 1 || w.Unhealthy != 0 {
		t.Fatalf("the gate after the restart: %+v, want each count once", w)
	}
	if anyResult(obs.snapshot(), good.Checksum, machines.ActionUpdate) || anyResult(obs.snapshot(), good.Checksum, machines.ActionInstall) {
		t.Fatal("the restarted node installed the change again")
	}
}

// A wave nobody drew is never completed by a report: the node that completes the wave before
// it tells the wave after it when to start too, and that wave does not wait for its poll (an
// hour here).
func TestTheWaveAfterAnEmptyOneIsHintedToo(t *testing.T) {
	f := newFixture(t)
	ids := []string{"node-1", "node-2", "node-3"}
	nodes := f.stagedNodesPolling(ids, time.Hour)
	p, err := rollout.ParsePolicy([]byte(`{"waves":["34%","50%","100%"],"bake":"200ms","healthy_deadline":"3s","max_unhealthy":"0"}`))
	if err != nil {
		t.Fatal(err)
	}
	f.put(nil, f.entry("web", "plain"))
	for _, n := range nodes {
		n.waitSays(t, "plain")
	}
	good, byWave := f.stagedEntryWhere("web", "good", &p, ids, func(byWave [][]string) bool {
		return len(byWave[0]) == 1 && len(byWave[1]) == 0
	})
	f.put(nil, good)
	for _, n := range nodes {
		n.obs.wait(t, n.id+" installing the change", func(outs []Outcome, _ []string) bool {
			return anyResult(outs, good.Checksum, machines.ActionUpdate)
		})
	}
	t.Logf("waves %v", byWave)
}
