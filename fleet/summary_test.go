package fleet

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	now := time.Now()
	node := func(id string, outcome Outcome, version int64, age time.Duration, machines ...string) Status {
		s := Status{Schema: Schema, Identity: id, Outcome: outcome, ReportedAt: now.Add(-age), FreshForMS: 180_000}
		if version > 0 {
			s.Spec = &SpecRef{Format: 2, Version: version, Revision: uint64(version)}
		}
		for _, m := range machines {
			s.Machines = append(s.Machines, Machine{Name: m})
		}
		return s
	}
	statuses := []Status{
		node("web1", OutcomeConverged, 7, time.Second, "web"),
		node("web2", OutcomeConverged, 6, time.Second, "web"),
		node("db1", OutcomeFailed, 7, time.Second, "db"),
		node("db2", OutcomeRefused, 6, time.Second),
		node("old1", OutcomeConverged, 7, time.Hour, "web"),
		node("new1", OutcomeWaiting, 0, time.Second),
	}
	sum := Summarize(statuses, Target{}, Filter{}, now)
	if sum.Target.Version != 7 {
		t.Errorf("target %+v, want the newest version any node accepted", sum.Target)
	}
	got := map[string]State{}
	for _, n := range sum.Nodes {
		got[n.Identity] = n.State
	}
	want := map[string]State{"web1": StateConverged, "web2": StateStraggler, "db1": StateFailed, "db2": StateRefused, "old1": StateOffline, "new1": StateStraggler}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states %v\nwant %v", got, want)
	}
	if sum.Converged || sum.Counts[StateStraggler] != 2 || sum.Nodes[0].Identity != "db1" {
		t.Errorf("summary %+v", sum)
	}
	if only := Summarize(statuses[:1], Target{}, Filter{}, now); !only.Converged {
		t.Error("one converged node is not a converged fleet")
	}
	if off := Summarize([]Status{statuses[0], statuses[4]}, Target{}, Filter{}, now); !off.Converged {
		t.Error("an offline node keeps the fleet from converging: it does not report")
	}
	// Against the published version 6 only web2 is converged; web1, on another version, is not.
	pub := Summarize(statuses, Target{Revision: 6, Version: 6}, Filter{Identity: regexp.MustCompile(`^web`)}, now)
	if pub.Counts[StateConverged] != 1 || pub.Nodes[0].Identity != "web1" || pub.Nodes[0].State != StateStraggler {
		t.Errorf("against the published version 6: %+v", pub.Nodes)
	}
	for _, c := range []struct {
		f    Filter
		want int
	}{
		{Filter{Identity: regexp.MustCompile(`^web`)}, 2},
		{Filter{Machine: "web"}, 3},
		{Filter{State: StateOffline}, 1},
		{Filter{Identity: regexp.MustCompile(`^db`), State: StateFailed}, 1},
	} {
		if n := len(Summarize(statuses, Target{}, c.f, now).Nodes); n != c.want {
			t.Errorf("filter %+v picked %d, want %d", c.f, n, c.want)
		}
	}
}

// TestSummarizeEdges: an empty or all-offline fleet is not converged; the payload digest
// decides when both sides know it (a v1 specification from a data item has no revision nor
// version); a node still converging is a straggler.
func TestSummarizeEdges(t *testing.T) {
	now := time.Now()
	if Summarize(nil, Target{}, Filter{}, now).Converged {
		t.Error("no node at all is a converged fleet")
	}
	old := Status{Schema: Schema, Identity: "gone", Outcome: OutcomeConverged, ReportedAt: now.Add(-time.Hour), FreshForMS: 1000, Spec: &SpecRef{Digest: "aa"}}
	if Summarize([]Status{old}, Target{}, Filter{}, now).Converged {
		t.Error("a fleet of offline nodes is converged")
	}
	v1 := func(id, digest string, outcome Outcome) Status {
		return Status{Schema: Schema, Identity: id, Outcome: outcome, ReportedAt: now, FreshForMS: 60_000, Spec: &SpecRef{Format: 1, Digest: digest}}
	}
	sum := Summarize([]Status{v1("a", "aa", OutcomeConverged), v1("b", "bb", OutcomeConverged), v1("c", "aa", OutcomeConverging)}, Target{Digest: "aa"}, Filter{}, now)
	got := map[string]State{}
	for _, n := range sum.Nodes {
		got[n.Identity] = n.State
	}
	if got["a"] != StateConverged || got["b"] != StateStraggler || got["c"] != StateStraggler || sum.Converged {
		t.Errorf("by digest: %v", got)
	}
}
