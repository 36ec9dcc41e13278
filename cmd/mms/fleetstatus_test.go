package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/internal/testwait"
)

// TestFleetStatus runs three mms agents on one NATS server and reads what they report with
// mms status --fleet: converged nodes, a node whose archive fails, a repair of drift, and a
// stopped node that goes offline.
func TestFleetStatus(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	key := newSigner(t)
	arch := newArchives(t)
	hello := arch.machine(t, "hello", "hi")
	broken := arch.machine(t, "dbtool", "x")
	broken.Source += ".missing" // answers 404
	broken.Match = "identity('^db')"

	agents := map[string]*process{}
	dirs := map[string]string{}
	for _, id := range []string{"web1", "web2", "db1"} {
		work, dir := machinesDir(t)
		dirs[id] = dir
		agents[id] = startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--identity", id,
			"--splay", "0", "--interval", "200ms", "--status-heartbeat", "500ms")
	}
	key.put(t, url, key.pack(t, 5, hello, broken))
	const anyCode = -1
	fleetJSON := func(want int, args ...string) fleetDoc {
		t.Helper()
		r := mms(t, t.TempDir(), append([]string{"status", "--fleet", "--server", url, "--json"}, args...)...)
		if want != anyCode && r.code != want {
			t.Fatalf("status --fleet: exit %d, want %d: %s%s", r.code, want, r.stdout, r.stderr)
		}
		var doc fleetDoc
		decodeStrict(t, r.stdout, &doc)
		return doc
	}
	states := func(doc fleetDoc) map[string]fleet.State {
		out := map[string]fleet.State{}
		for _, n := range doc.Nodes {
			out[n.Identity] = n.State
		}
		return out
	}
	testwait.Eventually(t, waitLong, "every node to report on revision 1", func() bool {
		s := states(fleetJSON(anyCode))
		return s["web1"] == fleet.StateConverged && s["web2"] == fleet.StateConverged && s["db1"] == fleet.StateFailed
	})
	doc := fleetJSON(1)
	if doc.Schema != "mms.fleet-status.v1" || doc.Target.Revision != 1 || doc.Target.Version != 5 || doc.Counts[fleet.StateConverged] != 2 || doc.Converged {
		t.Fatalf("document %+v", doc)
	}
	for _, n := range doc.Nodes {
		if n.Identity != "db1" {
			continue
		}
		var failedWhy string
		for _, m := range n.Machines {
			if m.Name == "dbtool" {
				failedWhy = m.Error
			}
		}
		if !strings.Contains(failedWhy, "404") || n.Host != "mms agent" {
			t.Errorf("db1 fails dbtool for %q, want the 404", failedWhy)
		}
	}
	if web := fleetJSON(0, "--identity", "^web"); !web.Converged || len(web.Nodes) != 2 {
		t.Errorf("the web nodes alone: %+v", web)
	}
	r := mms(t, t.TempDir(), "status", "--fleet", "--server", url)
	for _, want := range []string{"3 nodes in MACHINES_STATUS, against the published specification (revision 1, version 5): 2 converged, 1 failed", "converged on version 5: 2", "failed", "db1", "404"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the text lacks %q:\n%s", want, r.stdout)
		}
	}

	// Drift on web1 is repaired by its interval, and reported.
	writeText(t, filepath.Join(dirs["web1"], "hello", "greeting.txt"), "tampered")
	testwait.Eventually(t, waitLong, "web1 to report the repair", func() bool {
		for _, n := range fleetJSON(anyCode).Nodes {
			if n.Identity == "web1" && len(n.Repairs) > 0 && n.Repairs[0].Machine == "hello" {
				return true
			}
		}
		return false
	})

	// A stopped node goes offline once its status is three heartbeats (1.5s) old. Picked
	// alone, no node reports: exit 1.
	agents["web2"].stop(t)
	testwait.Eventually(t, waitLong, "web2 to be offline", func() bool { return states(fleetJSON(anyCode))["web2"] == fleet.StateOffline })
	if off := fleetJSON(1, "--state", "offline"); len(off.Nodes) != 1 || off.Nodes[0].Spec == nil || off.Nodes[0].Spec.Version != 5 {
		t.Errorf("offline web2 with its last known state: %+v", off.Nodes)
	}
}

// TestFleetStatusWatch: --watch redraws as statuses arrive, and refuses --json.
func TestFleetStatusWatch(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := fleet.EnsureBucket(ctx, js, fleet.BucketConfig(fleet.DefaultBucket, 1, 0)); err != nil {
		t.Fatal(err)
	}
	p := startMMS(t, t.TempDir(), "status", "--fleet", "--watch", "--server", url)
	publish := func(id string) {
		r := &fleet.Reporter{Identity: id, Host: "mms agent"}
		data, err := json.Marshal(r.Status(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "$KV."+fleet.DefaultBucket+"."+fleet.Key(id), data); err != nil {
			t.Fatal(err)
		}
	}
	publish("web1")
	testwait.Eventually(t, waitLong, "a screen with web1", func() bool { return strings.Contains(p.stdout.String(), "1 nodes in MACHINES_STATUS") })
	publish("web2")
	testwait.Eventually(t, waitLong, "a screen with web2 too", func() bool { return strings.Contains(p.stdout.String(), "2 nodes in MACHINES_STATUS") })
	if code := p.stop(t); code != 0 {
		t.Errorf("--watch exited %d on SIGTERM", code)
	}
	if r := mms(t, t.TempDir(), "status", "--fleet", "--watch", "--json", "--server", url); r.code != 2 {
		t.Errorf("--watch --json: exit %d, want 2", r.code)
	}
}
