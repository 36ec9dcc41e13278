package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/rollout"
)

// stagedPolicy is the policy of the e2e's staged rollout: one node first, then the others
// once it has been RUNNING for the bake; FAILED is unhealthy at once, and any unhealthy node
// halts the change.
func stagedPolicy(firstShare string) map[string]any {
	return map[string]any{
		"waves": []string{firstShare, "100%"}, "bake": "5s",
		"healthy_states": []string{"RUNNING"}, "failed_states": []string{"FAILED"},
		"healthy_deadline": "90s", "max_unhealthy": "0",
	}
}

// firstWaveOfOne returns the smallest first-wave share (in whole percents) that puts exactly
// one of nodes in the first wave of e's change, and that node: each node draws its wave from
// its identity, the entry and the checksum, so the e2e picks the share that makes "one node,
// then all" of this archive.
func firstWaveOfOne(t *testing.T, e entry, nodes []string) (string, string) {
	t.Helper()
	name, _ := e["name"].(string)
	sum, _ := e["checksum"].(string)
	for pct := 1; pct < 100; pct++ {
		share := fmt.Sprintf("%d%%", pct)
		w, err := rollout.ParseWaves([]string{share, "100%"})
		if err != nil {
			t.Fatal(err)
		}
		var first []string
		for _, n := range nodes {
			if w.WaveOf(n, name, sum) == 0 {
				first = append(first, n)
			}
		}
		if len(first) == 1 {
			return share, first[0]
		}
	}
	t.Fatalf("no share puts exactly one of %v in the first wave of %s", nodes, sum)
	return "", ""
}

// rolloutDoc is what the e2e reads of mms rollout status --json (mms.rollout-status.v1).
type rolloutDoc struct {
	Entries []struct {
		Name   string `json:"name"`
		State  string `json:"state"`
		Halted bool   `json:"halted"`
		Waves  []struct {
			Wave      int   `json:"wave"`
			Members   int64 `json:"members"`
			Installed int64 `json:"installed"`
			Healthy   int64 `json:"healthy"`
			Unhealthy int64 `json:"unhealthy"`
			Reverted  int64 `json:"reverted"`
		} `json:"waves"`
	} `json:"entries"`
}

// rolloutStatus runs mms rollout status --json through the broker.
func (c *cluster) rolloutStatus(t *testing.T, publicKey string) rolloutDoc {
	t.Helper()
	out, err := runCmd(nil, mmsBin, "rollout", "status", "--choria-config", c.clientConf, "--public-key", publicKey, "--json")
	var doc rolloutDoc
	if jerr := json.Unmarshal([]byte(out), &doc); err != nil || jerr != nil {
		t.Fatalf("mms rollout status --json: %v, %v: %q", err, jerr, out)
	}
	return doc
}

// stagedRollout is the e2e's staged rollout, on the running fleet: a release that reaches its
// healthy state goes to one node, then, once that node has been healthy for the bake, to the
// others; a release that enters its failed state is taken back on the first node, which goes
// back to the version before without a download, and never reaches the others. The
// CloudEvents, mms status --fleet and mms rollout status say so.
func (c *cluster) stagedRollout(t *testing.T, trusted signer, archives *archiveServer, events *notifications, fleetStatus func(*testing.T, ...string) fleetDoc, version func() int64, base ...entry) {
	all := []string{web1, web2, db1}
	v1 := archives.build(t, "staged-v1", "staged", "staged-1.tar.gz")
	v2 := archives.build(t, "staged-v2", "staged", "staged-2.tar.gz")
	v3 := archives.build(t, "staged-v3", "staged", "staged-3.tar.gz")
	onVersion := func(t *testing.T, nodes []string, want string) {
		t.Helper()
		waitFor(t, applyTimeout, fmt.Sprintf("staged %s on %v", want, nodes), func() (bool, string) {
			for _, id := range nodes {
				if got := c.nodes[id].installedVersion("staged"); got != want {
					return false, fmt.Sprintf("%s has %q", id, got)
				}
			}
			return true, ""
		})
	}
	others := func(canary string) []string {
		var out []string
		for _, id := range all {
			if id != canary {
				out = append(out, id)
			}
		}
		return out
	}

	started, _ := c.put(pack(t, trusted, version(), append(base, v1)...))
	onVersion(t, all, "1.0.0")
	for _, id := range all {
		c.awaitRunning(t, id, "staged", "1.0.0")
	}

	// A healthy release: one node, then all.
	share, canary := firstWaveOfOne(t, v2, all)
	t.Logf("the healthy release: waves %s then 100%%, %s alone in the first", share, canary)
	started, _ = c.put(pack(t, trusted, version(), append(base, v2.with("rollout", stagedPolicy(share)))...))
	onVersion(t, []string{canary}, "2.0.0")
	for _, id := range others(canary) {
		if got := c.nodes[id].installedVersion("staged"); got != "1.0.0" {
			t.Fatalf("%s has staged %q as soon as the first wave's %s took the change: it did not wait for its wave", id, got, canary)
		}
	}
	c.awaitRunning(t, canary, "staged", "2.0.0")
	onVersion(t, all, "2.0.0")
	t.Logf("the healthy release reached every node %v after the put", time.Since(started).Round(time.Millisecond))
	waitFor(t, applyTimeout, "mms rollout status to count the healthy release healthy everywhere", func() (bool, string) {
		doc := c.rolloutStatus(t, trusted.public)
		if len(doc.Entries) != 1 || len(doc.Entries[0].Waves) != 2 {
			return false, fmt.Sprintf("%+v", doc)
		}
		w := doc.Entries[0].Waves
		return w[0].Installed == 1 && w[0].Healthy == 1 && w[1].Installed == 2 && w[1].Healthy == 2, fmt.Sprintf("%+v", doc)
	})

	// A release that fails: taken back on its first node, never installed on the others.
	share, canary = firstWaveOfOne(t, v3, all)
	t.Logf("the failing release: waves %s then 100%%, %s alone in the first", share, canary)
	started, _ = c.put(pack(t, trusted, version(), append(base, v3.with("rollout", stagedPolicy(share)))...))
	n := events.await(t, loadTimeout+applyTimeout, canary, manager, started, "that it took the failing release back", func(n notification) bool {
		// Taken back for its own FAILED state, or for the halt another report caused first (web1's
		// hand-placed repairer judges the same machine as web1).
		got := n.forMachine("staged")
		return strings.HasPrefix(got, "revert failed=false unhealthy: entered state FAILED") || strings.HasPrefix(got, "revert failed=false halted: ")
	})
	t.Logf("%s: %s", canary, n.forMachine("staged"))
	if !slices.Contains(n.Machines, "staged") {
		t.Errorf("%s's notification of the revert does not list staged among the machines it manages: %s", canary, n)
	}
	onVersion(t, all, "2.0.0")
	c.awaitRunning(t, canary, "staged", "2.0.0")
	waitFor(t, applyTimeout, "mms status --fleet to say reverted on the first node and halted on the others", func() (bool, string) {
		doc := fleetStatus(t)
		for _, id := range all {
			node, _ := doc.node(id)
			m, ok := node.machine("staged")
			want := map[bool]string{true: "reverted", false: "halted"}[id == canary]
			if !ok || m.Rollout == nil || m.Rollout.Phase != want || node.State != "held" {
				return false, fmt.Sprintf("%s: %+v, rollout %+v (state %s), want %s", id, m, m.Rollout, node.State, want)
			}
		}
		return true, ""
	})
	doc := c.rolloutStatus(t, trusted.public)
	if len(doc.Entries) != 1 || !doc.Entries[0].Halted || doc.Entries[0].Waves[0].Reverted != 1 || doc.Entries[0].Waves[1].Installed != 0 {
		t.Fatalf("mms rollout status of the failing release: %+v", doc)
	}
	// web1's hand-placed repairer reconciles the same specification into a directory of its
	// own, as web1: when web1 is the first node it fetches the failing release too.
	want := 1
	if canary == web1 {
		want = 2
	}
	if got := archives.requests("/staged-3.tar.gz"); got > want {
		t.Errorf("the failing release's archive was fetched %d times, want %d: a node outside the first wave fetched it", got, want)
	}
}
