package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Waits, generous for a loaded two-core machine. Choria's loader looks for new machine
// directories every 10 seconds.
const (
	applyTimeout   = 30 * time.Second
	loadTimeout    = 45 * time.Second
	restartTimeout = 90 * time.Second
	// compiledInOffline bounds waiting for a stopped node to go offline in the status of the
	// compiled-in manager: three heartbeats of a minute, from its last report.
	compiledInOffline = 3*time.Minute + applyTimeout
)

const (
	web1 = "web1.e2e"
	web2 = "web2.e2e"
	db1  = "db1.e2e"
	// manager is the compiled-in machine that runs the machines watcher on each node.
	manager = "machines_manager"
	// repairer is a hand-placed machine on web1 running the watcher every 2s on another directory.
	repairer = "repairer"
)

// webOnly matches the nodes whose role fact is web.
const webOnly = `get_fact("role") == "web"`

// TestOperatorFleet runs the operator's scenarios in order against one broker and three
// nodes: each step starts from what the previous one left, as a fleet would.
func TestOperatorFleet(t *testing.T) {
	trusted := newSigner(t, "operator")
	intruder := newSigner(t, "intruder")

	archives := newArchiveServer(t)
	helloV1 := archives.build(t, "hello-v1", "hello", "hello-1.tar.gz")
	helloV2 := archives.build(t, "hello-v2", "hello", "hello-2.tar.gz")
	keeper := archives.build(t, "keeper", "keeper", "keeper-1.tar.gz")
	late := archives.build(t, "late", "late", "late-1.tar.gz")

	c := newCluster(t, trusted.public,
		nodeSpec{web1, `{"role":"web"}`},
		nodeSpec{web2, `{"role":"web"}`},
		nodeSpec{db1, `{"role":"db"}`},
	)
	all := []string{web1, web2, db1}
	webs := []string{web1, web2}
	events := c.watchNotifications()
	// The operator follows the fleet with their own stock `choria machine watch`, started well
	// before the first publish so that it has subscribed by then.
	watchLog := filepath.Join(c.dir, "machine-watch.log")
	startProc(t, "choria machine watch", watchLog, nil, operatorBin, "machine", "watch", "--watchers", "--type", "machines", "--identity", web1, "--config", c.clientConf)
	c.mustChoria(nil, "kv", "add", "MACHINES", "--max-value-size", "1048576")
	// The status buckets, as mms put would create them: the compiled-in managers report to
	// MACHINES_STATUS, web1's hand-placed repairer to its own.
	for _, b := range []string{"MACHINES_STATUS", "MACHINES_STATUS_REPAIRER"} {
		c.mustChoria(nil, "kv", "add", b, "--history", "1", "--ttl", "24h")
	}
	fleetStatus := func(t *testing.T, args ...string) fleetDoc {
		t.Helper()
		out, _ := runCmd(nil, mmsBin, append([]string{"status", "--fleet", "--choria-config", c.clientConf, "--json"}, args...)...)
		var doc fleetDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("mms status --fleet --json: %v: %q", err, out)
		}
		return doc
	}

	// Versions only grow; each step takes the next.
	version := time.Now().UnixMilli()
	next := func() int64 { version += 1000; return version }

	var latencies []time.Duration
	installedEverywhere := func(t *testing.T, nodes []string, name, want string, from time.Time) time.Duration {
		t.Helper()
		var took time.Duration
		waitFor(t, applyTimeout, fmt.Sprintf("%s %s on %v", name, want, nodes), func() (bool, string) {
			for _, id := range nodes {
				if got := c.nodes[id].installedVersion(name); got != want {
					return false, fmt.Sprintf("%s has %q", id, got)
				}
			}
			took = time.Since(from)
			return true, ""
		})
		return took
	}

	step(t, "hand-placed machines load before any specification", func(t *testing.T) {
		for _, id := range all {
			copyTree(t, filepath.Join("testdata", "machines", "handmade"), c.nodes[id].machineDir("handmade"))
		}
		extra := mkdir(t, c.nodes[web1].dir, "extra")
		if err := os.MkdirAll(c.nodes[web1].machineDir(repairer), 0o755); err != nil {
			t.Fatal(err)
		}
		def := readTemplate(t, filepath.Join("testdata", "machines", repairer, "machine.yaml"), "MACHINES_DIRECTORY", extra)
		if err := os.WriteFile(filepath.Join(c.nodes[web1].machineDir(repairer), "machine.yaml"), def, 0o644); err != nil {
			t.Fatal(err)
		}
		c.awaitRunning(t, web1, "handmade", "1.0.0")
		c.awaitRunning(t, web1, repairer, "1.0.0")
	})

	step(t, "1. a published machine is installed, verified and run on matching nodes only", func(t *testing.T) {
		v := next()
		started, _ := c.put(pack(t, trusted, v, helloV1.with("match", webOnly)))
		latencies = append(latencies, installedEverywhere(t, webs, "hello", "1.0.0", started))
		// Every node says so in the fleet status, within seconds of the put.
		waitFor(t, applyTimeout, "mms status --fleet to show every node on version "+fmt.Sprint(v), func() (bool, string) {
			doc := fleetStatus(t)
			for _, id := range all {
				n, ok := doc.node(id)
				if !ok || n.State != "converged" || n.Spec == nil || n.Spec.Version != v {
					return false, fmt.Sprintf("%+v", doc)
				}
			}
			return doc.Converged, ""
		})
		t.Logf("mms status --fleet: every node converged %v after the put", time.Since(started).Round(time.Millisecond))
		for _, id := range webs {
			if err := verifySums(c.nodes[id].machineDir("hello")); err != nil {
				t.Errorf("%s: installed hello does not verify: %v", id, err)
			}
			c.awaitRunning(t, id, "hello", "1.0.0")
		}
		n := events.await(t, applyTimeout, db1, manager, started, "that it accepted version "+fmt.Sprint(v), func(n notification) bool {
			return n.SpecVersion == v && n.Error == ""
		})
		if _, err := os.Stat(c.nodes[db1].machineDir("hello")); !os.IsNotExist(err) {
			t.Errorf("db1 does not match, yet hello is in its machines directory (stat: %v); notification: %s", err, n)
		}
		if got := n.forMachine("hello"); !strings.HasPrefix(got, "skip failed=false matcher is false") {
			t.Errorf("db1's notification says %q about hello, want a skip because the matcher is false: %s", got, n)
		}
		if got := archives.requests("/hello-1.tar.gz"); got < 2 {
			t.Errorf("the archive server saw %d requests for hello-1.tar.gz, want one per web node at least", got)
		}
		// Choria loads the new machine within seconds; the status says its state once it runs.
		waitFor(t, applyTimeout, "the web nodes to report hello RUNNING", func() (bool, string) {
			doc := fleetStatus(t)
			for _, id := range webs {
				n, _ := doc.node(id)
				if m, ok := n.machine("hello"); !ok || m.Version != "1.0.0" || !m.Verified || m.State != "RUNNING" || n.Host != "choria" {
					return false, fmt.Sprintf("%s reports hello as %+v (host %s), want 1.0.0, verified, RUNNING", id, m, n.Host)
				}
			}
			return true, ""
		})
		doc := fleetStatus(t)
		if n, _ := doc.node(db1); len(n.Machines) != 0 {
			t.Errorf("db1, which hello's matcher leaves out, reports %+v", n.Machines)
		}
	})

	step(t, "2. a new version replaces the old one and its files are gone", func(t *testing.T) {
		started, _ := c.put(pack(t, trusted, next(), helloV2.with("match", webOnly)))
		defer func() {
			waitFor(t, applyTimeout, "the stock choria machine watch to show web1's update", func() (bool, string) {
				out := tail(watchLog, 50)
				return strings.Contains(out, web1+" "+manager+"#machines machines: hello, handmade") || strings.Contains(out, web1+" "+manager+"#machines machines: hello") &&
					strings.Contains(out, "previous: changed"), out
			})
		}()
		latencies = append(latencies, installedEverywhere(t, webs, "hello", "2.0.0", started))
		for _, id := range webs {
			dir := c.nodes[id].machineDir("hello")
			if _, err := os.Stat(filepath.Join(dir, "files", "v1.txt")); !os.IsNotExist(err) {
				t.Errorf("%s: files/v1.txt of version 1 is still there (stat: %v)", id, err)
			}
			if err := verifySums(dir); err != nil {
				t.Errorf("%s: hello 2.0.0 does not verify: %v", id, err)
			}
			c.awaitRunning(t, id, "hello", "2.0.0")
		}
	})

	step(t, "3. a machine left out of the specification is purged; hand-placed machines stay", func(t *testing.T) {
		handmade, err := os.ReadFile(filepath.Join("testdata", "machines", "handmade", "machine.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		started, _ := c.put(pack(t, trusted, next(), keeper))
		latencies = append(latencies, installedEverywhere(t, all, "keeper", "1.0.0", started))
		waitFor(t, applyTimeout, "hello to be purged from the web nodes", func() (bool, string) {
			for _, id := range webs {
				if _, err := os.Stat(c.nodes[id].machineDir("hello")); !os.IsNotExist(err) {
					return false, fmt.Sprintf("%s still has hello (stat: %v)", id, err)
				}
			}
			return true, ""
		})
		for _, id := range all {
			got, err := os.ReadFile(filepath.Join(c.nodes[id].machineDir("handmade"), "machine.yaml"))
			if err != nil || string(got) != string(handmade) {
				t.Errorf("%s: the hand-placed machine changed: %v\n%s", id, err, got)
			}
		}
		if v := yamlVersion(filepath.Join(c.nodes[web1].machineDir(repairer), "machine.yaml")); v != "1.0.0" {
			t.Errorf("web1: the hand-placed repairer machine is gone or changed: version %q", v)
		}
		waitFor(t, loadTimeout, "Choria to stop hello on web1", func() (bool, string) {
			states, err := c.machineStates(web1)
			if err != nil {
				return false, err.Error()
			}
			_, running := states["hello"]
			return !running, fmt.Sprintf("%v", states)
		})
	})

	step(t, "4. a tampered file is repaired at the next interval", func(t *testing.T) {
		// The compiled-in manager re-verifies every 5 minutes; the hand-placed repairer runs
		// the same watcher every 2 seconds on web1's extra directory.
		dir := filepath.Join(c.nodes[web1].dir, "extra", "keeper")
		waitFor(t, applyTimeout, "the repairer to install keeper in "+dir, func() (bool, string) {
			return verifySums(dir) == nil, fmt.Sprint(verifySums(dir))
		})
		tampered := time.Now()
		file := filepath.Join(dir, "data.txt")
		if err := os.WriteFile(file, []byte("tampered\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		waitFor(t, applyTimeout, "data.txt to be repaired", func() (bool, string) {
			err := verifySums(dir)
			return err == nil, fmt.Sprint(err)
		})
		n := events.await(t, applyTimeout, web1, repairer, tampered, "a repair on an interval", func(n notification) bool {
			return slices.Contains(n.Triggers, "interval") && strings.HasPrefix(n.forMachine("keeper"), "repair")
		})
		t.Logf("web1 repairer: %s", n.forMachine("keeper"))
		waitFor(t, applyTimeout, "the repair in web1's fleet status", func() (bool, string) {
			doc := fleetStatus(t, "--status-bucket", "MACHINES_STATUS_REPAIRER")
			w, ok := doc.node(web1)
			for _, r := range w.Repairs {
				if r.Machine == "keeper" && !r.At.Before(tampered.Add(-time.Second)) {
					return true, ""
				}
			}
			return false, fmt.Sprintf("found %v: %+v", ok, w)
		})
	})

	step(t, "5. refused specifications change nothing and say why", func(t *testing.T) {
		before := map[string]string{}
		for _, id := range all {
			s, err := c.nodes[id].snapshot()
			if err != nil {
				t.Fatal(err)
			}
			before[id] = s
		}
		unchanged := func(t *testing.T) {
			t.Helper()
			for _, id := range all {
				if s, err := c.nodes[id].snapshot(); err != nil || s != before[id] {
					t.Errorf("%s: the machines directory changed (%v):\nbefore:\n%s\nafter:\n%s", id, err, before[id], s)
				}
			}
		}
		accepted := version
		goodLate := late

		cases := []struct {
			name     string
			envelope func() []byte
			outcome  string
			why      string // in the notification
			logged   []string
		}{
			{"signed with a key the nodes do not trust", func() []byte { return pack(t, intruder, next(), keeper, goodLate) },
				"refused", "signature refused", []string{"specification refused, nothing changed", "signature refused"}},
			{"an older version (rollback)", func() []byte { return pack(t, trusted, accepted-500, keeper, goodLate) },
				"refused", "rollback refused", []string{"specification refused, nothing changed", "rollback refused"}},
			{"an archive whose checksum does not match", func() []byte {
				return pack(t, trusted, next(), keeper, goodLate.with("checksum", strings.Repeat("ab", 32)))
			}, "failed", "checksum mismatch", []string{"machine=late", "checksum mismatch"}},
			{"an archive that 404s", func() []byte {
				return pack(t, trusted, next(), keeper, goodLate.with("source", archives.url("missing.tar.gz")))
			}, "failed", "404", []string{"machine=late", "404"}},
		}
		for _, tc := range cases {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				started, _ := c.put(tc.envelope())
				for _, id := range all {
					n := events.await(t, applyTimeout, id, manager, started, tc.outcome+" with "+tc.why, func(n notification) bool {
						return n.Outcome == tc.outcome && strings.Contains(n.String(), tc.why)
					})
					// The fleet status says the same, with the reason.
					waitFor(t, applyTimeout, id+" "+tc.outcome+" in the fleet status", func() (bool, string) {
						got, _ := fleetStatus(t, "--identity", "^"+regexp.QuoteMeta(id)+"$").node(id)
						return got.State == tc.outcome && strings.Contains(got.reasons(), tc.why), fmt.Sprintf("%+v", got)
					})
					if tc.outcome == "failed" && !strings.Contains(n.forMachine("late"), tc.why) {
						t.Errorf("%s: the notification does not blame late: %s", id, n)
					}
					if !c.nodes[id].logContains(tc.logged...) {
						t.Errorf("%s: no log line contains %q", id, tc.logged)
					}
				}
				unchanged(t)
			})
		}
	})

	step(t, "6. after a broker restart nodes reconnect and apply the next specification", func(t *testing.T) {
		const reconnected = "NATS client reconnected after a previous disconnection"
		before := map[string]int{}
		for _, id := range all {
			before[id] = c.nodes[id].logCount(reconnected)
		}
		c.restartBroker()
		// Published at once, possibly before the nodes are back: they must find it either way.
		started, _ := c.putRetrying(pack(t, trusted, next(), keeper, late), restartTimeout)
		waitFor(t, restartTimeout, "late on every node", func() (bool, string) {
			for _, id := range all {
				if got := c.nodes[id].installedVersion("late"); got != "1.0.0" {
					return false, fmt.Sprintf("%s has %q", id, got)
				}
			}
			return true, ""
		})
		t.Logf("put to installed on every node after the restart: %v", time.Since(started).Round(time.Millisecond))
		for _, id := range all {
			if c.nodes[id].logCount(reconnected) <= before[id] {
				t.Errorf("%s: its log does not say it reconnected to the restarted broker", id)
			}
		}
	})

	step(t, "7. a node in MAINTENANCE ignores specifications until resumed, then catches up", func(t *testing.T) {
		if err := c.transition(web2, manager, "enter_maintenance"); err != nil {
			t.Fatal(err)
		}
		c.awaitState(t, web2, manager, "MAINTENANCE")

		data := filepath.Join(c.nodes[web2].machineDir("keeper"), "data.txt")
		if err := os.WriteFile(data, []byte("changed during maintenance\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ignored := c.nodes[web2].logCount("Not reconciling in state MAINTENANCE")
		started, _ := c.put(pack(t, trusted, next(), keeper, late, helloV2.with("match", webOnly)))
		installedEverywhere(t, []string{web1}, "hello", "2.0.0", started)
		waitFor(t, applyTimeout, "web2 to see the specification and not act on it", func() (bool, string) {
			return c.nodes[web2].logCount("Not reconciling in state MAINTENANCE") > ignored, "no new 'Not reconciling in state MAINTENANCE' in its log"
		})
		if got := c.nodes[web2].installedVersion("hello"); got != "" {
			t.Errorf("web2 installed hello %s in MAINTENANCE", got)
		}
		if b, _ := os.ReadFile(data); string(b) != "changed during maintenance\n" {
			t.Errorf("web2 repaired keeper in MAINTENANCE: %q", b)
		}

		resumed := time.Now()
		if err := c.transition(web2, manager, "resume"); err != nil {
			t.Fatal(err)
		}
		installedEverywhere(t, []string{web2}, "hello", "2.0.0", resumed)
		waitFor(t, applyTimeout, "web2 to repair keeper after resuming", func() (bool, string) {
			err := verifySums(c.nodes[web2].machineDir("keeper"))
			return err == nil, fmt.Sprint(err)
		})
		c.awaitState(t, web2, manager, "MANAGE")
	})

	step(t, "mms put publishes through the broker with the operator's client certificate", func(t *testing.T) {
		envelope := pack(t, trusted, next(), keeper, late, helloV2) // step 8 starts from 1.0.0
		file := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(file, envelope, 0o600); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		out := mms(t, nil, "put", file, "--server", c.url(), "--public-key", trusted.public,
			"--tlscert", c.client.cert, "--tlskey", c.client.key, "--tlsca", c.pki.caFile)
		if !strings.Contains(out, "revision") {
			t.Errorf("mms put printed %q", out)
		}
		installedEverywhere(t, all, "hello", "2.0.0", started)
		got := mms(t, nil, "get", "--raw", "--server", c.url(), "--tlscert", c.client.cert, "--tlskey", c.client.key, "--tlsca", c.pki.caFile)
		if strings.TrimSpace(got) != string(envelope) {
			t.Errorf("mms get --raw printed %q, want what was put", got)
		}

		// The same with the operator's Choria client configuration alone.
		v := next()
		if err := os.WriteFile(file, pack(t, trusted, v, keeper, late, helloV2), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := mms(t, nil, "put", file, "--choria-config", c.clientConf, "--public-key", trusted.public); !strings.Contains(out, "revision") {
			t.Errorf("mms put --choria-config printed %q", out)
		}
		var doc struct {
			Version int64 `json:"version"`
			Signed  bool  `json:"signed"`
		}
		if err := json.Unmarshal([]byte(mms(t, nil, "get", "--choria-config", c.clientConf, "--public-key", trusted.public, "--json")), &doc); err != nil || doc.Version != v || !doc.Signed {
			t.Errorf("mms get --choria-config --json: %+v (%v), want version %d signed", doc, err, v)
		}
	})

	step(t, "an archive in the NATS Object Store installs over each node's own broker connection", func(t *testing.T) {
		// hello 1.0.0 with one more file: an archive no node has had, so that each must fetch it.
		src := filepath.Join(t.TempDir(), "hello")
		copyTree(t, filepath.Join("testdata", "machines", "hello-v1"), src)
		if err := os.WriteFile(filepath.Join(src, "files", "from-the-object-store.txt"), []byte("obj\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := mms(t, nil, "archive", src, "--name", "hello", "--publish", "MACHINES_ARCHIVES", "--choria-config", c.clientConf)
		var fromStore entry
		if err := json.Unmarshal([]byte(out), &fromStore); err != nil {
			t.Fatalf("mms archive --publish printed %q: %v", out, err)
		}
		source, _ := fromStore["source"].(string)
		if !strings.HasPrefix(source, "obj://MACHINES_ARCHIVES/hello-") {
			t.Fatalf("mms archive --publish printed source %q", source)
		}
		started, _ := c.put(pack(t, trusted, next(), keeper, late, fromStore))
		latencies = append(latencies, installedEverywhere(t, all, "hello", "1.0.0", started))
		for _, id := range all {
			if _, err := os.Stat(filepath.Join(c.nodes[id].machineDir("hello"), "files", "from-the-object-store.txt")); err != nil {
				t.Errorf("%s: the archive from the Object Store is not what is installed: %v", id, err)
			}
			var st struct {
				Machines []struct{ Name, Source string } `json:"machines"`
			}
			if err := json.Unmarshal([]byte(mms(t, nil, "status", "--dir", c.nodes[id].machines, "--json")), &st); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(st.Machines, func(m struct{ Name, Source string }) bool { return m.Name == "hello" && m.Source == source }) {
				t.Errorf("%s: mms status says %+v, want hello from %s", id, st.Machines, source)
			}
		}
		// Back to 2.0.0 everywhere, where step 8 starts.
		started, _ = c.put(pack(t, trusted, next(), keeper, late, helloV2))
		installedEverywhere(t, all, "hello", "2.0.0", started)
	})

	step(t, "8. kv put to installed on every node takes about a second", func(t *testing.T) {
		for i, e := range []entry{helloV1, helloV2, helloV1} {
			want := map[bool]string{true: "1.0.0", false: "2.0.0"}[i%2 == 0]
			started, _ := c.put(pack(t, trusted, next(), keeper, late, e))
			latencies = append(latencies, installedEverywhere(t, all, "hello", want, started))
		}
		report(t, latencies)
	})

	step(t, "11. a node trusting a keyring takes what a team signs within its scope and refuses the rest", func(t *testing.T) {
		c.keyringStep(t, events, next, helloV1, keeper)
	})

	step(t, "10. a staged release goes to one node, then all; a failing one is taken back on the first and never reaches the others", func(t *testing.T) {
		c.stagedRollout(t, trusted, archives, events, fleetStatus, next, keeper, late, helloV1)
	})

	step(t, "9. a stopped node shows offline in the fleet status once its status is stale", func(t *testing.T) {
		// The repairer has a splay of its own: wait until it reports the last specification.
		waitFor(t, applyTimeout, "web1's repairer on the last version", func() (bool, string) {
			w, _ := fleetStatus(t, "--status-bucket", "MACHINES_STATUS_REPAIRER").node(web1)
			return w.State != "offline" && w.Spec != nil && w.Spec.Version == version, fmt.Sprintf("%+v", w)
		})
		stopped := time.Now()
		if err := c.nodes[web1].proc.stop(); err != nil {
			t.Logf("stopping web1: %v", err)
		}
		// The repairer reports every second: three missed heartbeats and web1 is offline.
		waitFor(t, applyTimeout, "web1 to be offline", func() (bool, string) {
			w, _ := fleetStatus(t, "--status-bucket", "MACHINES_STATUS_REPAIRER").node(web1)
			return w.State == "offline", fmt.Sprintf("%+v", w)
		})
		t.Logf("web1 offline %v after it stopped", time.Since(stopped).Round(time.Millisecond))
		w, _ := fleetStatus(t, "--status-bucket", "MACHINES_STATUS_REPAIRER", "--state", "offline").node(web1)
		if w.Spec == nil || w.Spec.Version != version {
			t.Errorf("offline web1 does not keep its last known state: version %v, want %d: %+v", w.Spec, version, w)
		}
		// The compiled-in manager reports every minute (the default heartbeat): three minutes
		// after its last report web1 is offline in MACHINES_STATUS too, and the others are not.
		waitFor(t, compiledInOffline, "web1 to be offline in MACHINES_STATUS", func() (bool, string) {
			doc := fleetStatus(t)
			w, _ := doc.node(web1)
			for _, id := range []string{web2, db1} {
				if n, _ := doc.node(id); n.State == "offline" {
					t.Fatalf("%s, which runs, is offline: %+v", id, n)
				}
			}
			return w.State == "offline", fmt.Sprintf("%+v", w)
		})
		t.Logf("web1 offline in MACHINES_STATUS %v after it stopped", time.Since(stopped).Round(time.Second))
	})
}

// awaitRunning waits until Choria on identity reports machine name running at version.
func (c *cluster) awaitRunning(t *testing.T, identity, name, version string) {
	t.Helper()
	waitFor(t, loadTimeout, fmt.Sprintf("Choria on %s to run %s %s", identity, name, version), func() (bool, string) {
		states, err := c.machineStates(identity)
		if err != nil {
			return false, err.Error()
		}
		s, ok := states[name]
		return ok && s.Version == version, fmt.Sprintf("%+v", states)
	})
}

// awaitState waits until machine name on identity is in state.
func (c *cluster) awaitState(t *testing.T, identity, name, state string) {
	t.Helper()
	waitFor(t, loadTimeout, fmt.Sprintf("%s on %s to be in %s", name, identity, state), func() (bool, string) {
		states, err := c.machineStates(identity)
		if err != nil {
			return false, err.Error()
		}
		return states[name].State == state, fmt.Sprintf("%+v", states[name])
	})
}

// report prints the put-to-installed latencies.
func report(t *testing.T, latencies []time.Duration) {
	t.Helper()
	if len(latencies) == 0 {
		t.Fatal("no latency measured")
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	var parts []string
	for _, l := range latencies {
		parts = append(parts, l.Round(time.Millisecond).String())
	}
	t.Logf("choria kv put -> installed on every matching node: min %v, median %v, max %v over %d specifications (%s)",
		sorted[0].Round(time.Millisecond), sorted[len(sorted)/2].Round(time.Millisecond), sorted[len(sorted)-1].Round(time.Millisecond),
		len(sorted), strings.Join(parts, ", "))
}

// step runs one scenario of an ordered sequence; when it fails, the later ones, which start
// from what it should have left, are not run.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}
