package watchers

import (
	"crypto/ed25519"
	"crypto/rand"
	"maps"
	"strings"
	"testing"
	"time"
)

// updateDeadline is how soon after a put a new specification must be on disk (issue 4).
const updateDeadline = time.Second

// These tests run go-choria's machine, with the machines watcher built by go-choria's watcher
// manager from testdata/kv/machine.yaml, connected by go-choria's own connector to an embedded
// NATS server, installing archives served over loopback HTTP.
func TestKV(t *testing.T) {
	t.Run("installs a specification that arrives via KV, and updates to a new one within a second", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		// With the key never written, the start reconcile finds nothing and changes nothing.
		first, _ := nd.n.waitState(t, 0, "from the start reconcile", func(st *StateNotification) bool { return has(st, "start") })
		if first.Outcome != SummaryNoSpecification {
			t.Fatalf("start reconcile: %s", first)
		}

		rev := b.put(t, s.envelope(s.priv, s.entry("web", "1")))
		waitVersion(t, nd.dir, "web", "1")
		st, _ := nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		if !has(st, "specification") || st.Revision != rev || !st.Signed || st.KeySource != KeySourceChoria || st.Source != "kv MACHINES/machines" {
			t.Fatalf("state %s triggers %v revision %d (put %d) key source %s", st, st.Triggers, st.Revision, rev, st.KeySource)
		}
		if len(st.Outcomes) != 1 || st.Outcomes[0].Name != "web" || st.Outcomes[0].Action != "install" {
			t.Fatalf("machines %+v", st.Outcomes)
		}

		next := s.envelope(s.priv, s.entry("web", "2"))
		start := time.Now()
		b.put(t, next)
		deadline := start.Add(updateDeadline)
		tick := time.NewTicker(pollEvery)
		defer tick.Stop()
		for installedVersion(nd.dir, "web") != "2" {
			if time.Now().After(deadline) {
				t.Fatalf("web not updated within %v of the put; states: %s", updateDeadline, nd.n.summary())
			}
			<-tick.C
		}
		t.Logf("updated %v after the put", time.Since(start))
	})

	t.Run("purges nothing when the key is deleted", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		b.put(t, s.envelope(s.priv, s.entry("web", "1"), s.entry("db", "1")))
		waitVersion(t, nd.dir, "web", "1")
		waitVersion(t, nd.dir, "db", "1")
		_, installed := nd.n.waitState(t, 0, "that installed both", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		before := tree(t, nd.dir)

		b.delete(t)
		st, i := nd.n.waitState(t, installed+1, "after the deletion", func(st *StateNotification) bool { return has(st, "specification") })
		if st.Outcome != SummaryNoSpecification || len(st.Outcomes) != 0 || !strings.Contains(st.Error, "nothing changed") {
			t.Fatalf("state after the deletion: %s", st)
		}
		// The interval reconciles that follow keep everything too.
		nd.n.waitState(t, i+1, "from an interval after the deletion", func(st *StateNotification) bool { return has(st, "interval") })
		if after := tree(t, nd.dir); !maps.Equal(before, after) {
			t.Fatalf("the machines directory changed after the key was deleted:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("resumes the watch after the broker restarts and applies a specification put afterwards", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		b.put(t, s.envelope(s.priv, s.entry("web", "1")))
		waitVersion(t, nd.dir, "web", "1")

		if err := b.srv.Restart(); err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		b.put(t, s.envelope(s.priv, s.entry("web", "2")))
		put := time.Now()
		waitVersion(t, nd.dir, "web", "2")
		t.Logf("applied %v after the restart, %v after the put", time.Since(restarted), time.Since(put))
	})

	t.Run("refuses a badly signed or unsigned specification, changes nothing, and says why", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		b.put(t, s.envelope(s.priv, s.entry("web", "1")))
		waitVersion(t, nd.dir, "web", "1")
		_, installed := nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		before := tree(t, nd.dir)

		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rev := b.put(t, s.envelope(other, s.entry("web", "2"), s.entry("evil", "1")))
		st, i := nd.n.waitState(t, installed+1, "for the badly signed specification", func(st *StateNotification) bool { return st.Revision == rev })
		if st.Outcome != SummaryRefused || !strings.Contains(st.Error, "signature") || st.Signed {
			t.Fatalf("state for a specification signed by another key: %s", st)
		}
		cur, ok := nd.m.WatcherState("machines")
		if !ok || cur.(*StateNotification).Outcome != SummaryRefused {
			t.Fatalf("the machine's current watcher state is %v", cur)
		}

		rev = b.put(t, s.envelope(nil, s.entry("web", "3")))
		st, _ = nd.n.waitState(t, i+1, "for the unsigned specification", func(st *StateNotification) bool { return st.Revision == rev })
		if st.Outcome != SummaryRefused || !strings.Contains(st.Error, "unsigned") && !strings.Contains(st.Error, "signature") {
			t.Fatalf("state for an unsigned specification: %s", st)
		}
		if after := tree(t, nd.dir); !maps.Equal(before, after) {
			t.Fatalf("a refused specification changed the machines directory:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("changes nothing in maintenance and catches up when resumed", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		b.put(t, s.envelope(s.priv, s.entry("web", "1")))
		waitVersion(t, nd.dir, "web", "1")
		nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })

		if err := nd.m.Transition("enter_maintenance"); err != nil {
			t.Fatal(err)
		}
		if st := nd.m.State(); st != "MAINTENANCE" {
			t.Fatalf("machine in state %s", st)
		}
		// The state change itself is a trigger the watcher skips. Once it has, no reconcile
		// begun in MANAGE is still running: the loop is one goroutine.
		nd.n.waitLines(t, 1, skippedIn("MAINTENANCE", "state"))
		before := tree(t, nd.dir)
		published := nd.n.published()

		b.put(t, s.envelope(s.priv, s.entry("web", "2")))
		// The new specification and two interval ticks reach the watcher, which skips them all.
		nd.n.waitLines(t, 1, skippedIn("MAINTENANCE", "specification"))
		nd.n.waitLines(t, 2, skippedIn("MAINTENANCE", "interval"))
		if p := nd.n.published(); p != published {
			t.Fatalf("%d states published in maintenance: %s", p-published, nd.n.summary())
		}
		if after := tree(t, nd.dir); !maps.Equal(before, after) {
			t.Fatalf("the machines directory changed in maintenance:\nbefore %v\nafter  %v", before, after)
		}

		if err := nd.m.Transition("resume"); err != nil {
			t.Fatal(err)
		}
		waitVersion(t, nd.dir, "web", "2")
		st, _ := nd.n.waitState(t, published, "after resuming", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		if !has(st, "state") {
			t.Fatalf("caught up by %v, not by the state change", st.Triggers)
		}
	})
}

// TestDataItem runs the machines watcher as go-choria v0.29.4's documentation sets it up:
// go-choria's own kv watcher polls the key into machine data, and the machines watcher reads
// the data item (testdata/kv_data_item/machine.yaml).
func TestDataItem(t *testing.T) {
	t.Run("installs and updates from the data item go-choria's kv watcher fills", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv_data_item", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		b.put(t, s.envelope(s.priv, s.entry("web", "1")))
		waitVersion(t, nd.dir, "web", "1")
		st, _ := nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		if !st.Signed || st.Source != "data item machines" {
			t.Fatalf("state %s", st)
		}
		// The kv watcher stored the envelope decoded, as a map; the watcher re-encoded it.
		if v, ok := nd.m.DataGet("machines"); !ok {
			t.Fatal("no data item")
		} else if _, isMap := v.(map[string]any); !isMap {
			t.Fatalf("the kv watcher stored a %T", v)
		}

		// The kv watcher polls every second and the machines watcher looks at the data item
		// every second; its interval is an hour, so only that look can find the new one.
		_, i := nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		b.put(t, s.envelope(s.priv, s.entry("web", "2")))
		waitVersion(t, nd.dir, "web", "2")
		st, _ = nd.n.waitState(t, i+1, "that updated web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		if !has(st, "specification") {
			t.Fatalf("updated by %v, not by the new specification", st.Triggers)
		}
	})
}
