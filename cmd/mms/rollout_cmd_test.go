package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go/jetstream"
)

// stagedMachines is a machines file whose web and db have rollout policies of their own, and
// bare none.
var stagedMachines = `{"machines": [
  {"name": "web", "source": "https://archives.example.net/web.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `", "rollout": ` + canaryPolicy + `},
  {"name": "db", "source": "https://archives.example.net/db.tgz", "checksum": "` + testSumB + `", "verify_checksum": "` + testSumA + `", "rollout": ` + quickPolicy + `},
  {"name": "bare", "source": "https://archives.example.net/bare.tgz", "checksum": "` + testSumA + `", "verify_checksum": "` + testSumB + `"}
]}`

// stagedFleet is a server holding a staged specification, packed and published with the CLI,
// and the gate the nodes keep on it.
type stagedFleet struct {
	url, dir  string
	pub, priv string
	trusted   []ed25519.PublicKey
	js        jetstream.JetStream
	gate      *gate.Store
	nodes     int // counted so far, for their names
}

func newStagedFleet(t *testing.T) *stagedFleet {
	t.Helper()
	f := &stagedFleet{url: natsServer(t).ClientURL(), dir: t.TempDir()}
	f.js = jsFor(t, f.url)
	f.pub, f.priv = keyPair(t, f.dir)
	raw, _ := hex.DecodeString(f.pub)
	f.trusted = []ed25519.PublicKey{raw}
	writeFile(t, f.dir, "machines.json", stagedMachines)
	p := mms(t, f.dir, "pack", "machines.json", f.priv)
	if p.code != 0 {
		t.Fatalf("pack: %+v", p)
	}
	if r := mms(t, f.dir, "put", writeFile(t, f.dir, "spec.json", p.stdout), "--server", f.url, "--public-key", f.pub); r.code != 0 {
		t.Fatalf("put: %+v", r)
	}
	return f
}

// run runs mms against the fleet's server.
func (f *stagedFleet) run(t *testing.T, args ...string) result {
	t.Helper()
	return mms(t, f.dir, append(args, "--server", f.url)...)
}

// status runs mms rollout status --json and decodes it strictly.
func (f *stagedFleet) status(t *testing.T, args ...string) rolloutStatusDoc {
	t.Helper()
	r := f.run(t, append([]string{"rollout", "status", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("rollout status --json: %+v", r)
	}
	var doc rolloutStatusDoc
	decodeStrict(t, r.stdout, &doc)
	return doc
}

// count adds n to a counter as n nodes do, each adding 1 for itself.
func (f *stagedFleet) count(t *testing.T, entry, checksum string, wave int, k gate.Kind, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if f.gate == nil {
		g, err := gate.Ensure(ctx, f.js, gate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f.gate = g
	}
	f.nodes += n
	for i := range n {
		if err := f.gate.Add(ctx, gate.ChangeID(entry, checksum), wave, k, 1, fmt.Sprintf("node%d", f.nodes-i)); err != nil {
			t.Fatal(err)
		}
	}
}

// controls reads a change's controls back as a node trusting the fleet's key does.
func (f *stagedFleet) controls(t *testing.T, entry, checksum string) (rollout.Controls, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	g, err := gate.Open(ctx, f.js, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, refused, err := g.Controls(ctx, gate.ChangeID(entry, checksum), f.trusted)
	if err != nil {
		t.Fatal(err)
	}
	return c, refused
}

func entryOf(t *testing.T, doc rolloutStatusDoc, name string) rolloutEntryDoc {
	t.Helper()
	for _, e := range doc.Entries {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %s in %+v", name, doc)
	return rolloutEntryDoc{}
}

// waveCounts says a wave's share and counts in a line, for comparing.
func waveCounts(w rolloutWaveDoc) string {
	c := w.rolloutCountsDoc
	return fmt.Sprintf("%s %d %d %d %d %d %d", w.Share, c.Members, c.Installed, c.Waiting, c.Healthy, c.Unhealthy, c.Reverted)
}

// stagedEntry is an entry web to testSumA with policy p.
func stagedEntry(p rollout.Policy) spec.Entry {
	return spec.Entry{Name: "web", Checksum: testSumA, Rollout: &p}
}

func TestRolloutStatusAndControls(t *testing.T) {
	f := newStagedFleet(t)
	const web, db = testSumA, testSumB

	t.Run("before any node registered, every staged entry shows zeros and exits 0", func(t *testing.T) {
		r := f.run(t, "rollout", "status")
		if r.code != 0 {
			t.Fatalf("rollout status: %+v", r)
		}
		for _, line := range []string{
			`^Staged rollouts of MACHINES/machines revision 1 \(stored \S+\), read at \S+$`,
			`^\(no rollout gate yet: no node has registered in any wave, and every count is 0\)$`,
			`^web: change ` + gate.ChangeID("web", web) + `, to checksum ` + web + `$`,
			`^  policy:   ` + regexp.QuoteMeta(canarySummary) + `$`,
			`^  WAVE\s+SHARE\s+MEMBERS\s+INSTALLED\s+WAITING\s+HEALTHY\s+UNHEALTHY\s+REVERTED\s+STARTED\s+GATE$`,
			`^  1\s+1%\s+0\s+0\s+0\s+0\s+0\s+0\s+no\s+open: first wave$`,
			`^  4\s+100%\s+0\s+0\s+0\s+0\s+0\s+0\s+no\s+.*`,
			`^db: change ` + gate.ChangeID("db", db) + `, to checksum ` + db + `$`,
			`^  state:    all 2 waves open$`,
		} {
			if !hasLine(r.stdout, line) {
				t.Errorf("no line %s:\n%s", line, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "bare") {
			t.Errorf("bare has no policy, yet is shown:\n%s", r.stdout)
		}
		doc := f.status(t)
		if doc.Schema != "mms.rollout-status.v1" || doc.Gate || doc.KV.Revision != 1 || doc.KeysGiven != 0 || len(doc.Entries) != 2 {
			t.Fatalf("document %+v", doc)
		}
		w := entryOf(t, doc, "web")
		if w.Change != gate.ChangeID("web", web) || w.Policy.Summary != canarySummary || len(w.Waves) != 4 || w.Total != (rolloutCountsDoc{}) || w.Halted || w.Paused {
			t.Fatalf("web %+v", w)
		}
		for i, share := range []string{"1%", "10%", "50%", "100%"} {
			if got := waveCounts(w.Waves[i]); got != share+" 0 0 0 0 0 0" || w.Waves[i].Wave != i+1 || w.Waves[i].Started {
				t.Errorf("wave %d: %s, %+v", i+1, got, w.Waves[i])
			}
		}
		if !w.Waves[0].Open || w.OpenWaves < 1 {
			t.Errorf("the first wave is not open: %+v", w)
		}
		if d := entryOf(t, doc, "db"); d.State != "open" || d.OpenWaves != 2 || d.Reason != "" || d.Waves[1].Gate != "the earlier waves are empty" {
			t.Errorf("db (bake 0s: its empty first wave holds nothing up) %+v", d)
		}
	})

	t.Run("names entries, refusing one not in the specification or without a policy", func(t *testing.T) {
		if doc := f.status(t, "db"); len(doc.Entries) != 1 || doc.Entries[0].Name != "db" {
			t.Fatalf("rollout status db: %+v", doc)
		}
		for entry, says := range map[string]string{
			"bare": `rollout status "bare": the entry has no rollout policy`,
			"nope": `rollout status "nope": the specification MACHINES/machines revision 1 (stored `,
		} {
			r := f.run(t, "rollout", "status", "web", entry)
			if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, says) {
				t.Errorf("rollout status web %s: %+v, want it to say %q", entry, r, says)
			}
		}
		if r := f.run(t, "rollout", "status", "--bucket", "NOPE"); r.code != 1 || !strings.Contains(r.stderr, "bucket not found") {
			t.Errorf("a specification that cannot be read: %+v", r)
		}
		if r := f.run(t, "rollout", "status", "--public-key", newSigner(t).pub); r.code != 1 || !strings.Contains(r.stderr, "signature") {
			t.Errorf("a specification another key signed: %+v", r)
		}
	})

	// The nodes count themselves: web's wave 1 all healthy, wave 2 partly installed.
	for _, c := range []struct {
		entry, sum string
		wave       int
		k          gate.Kind
		n          int
	}{
		{"web", web, 0, gate.Members, 2}, {"web", web, 0, gate.Took, 2}, {"web", web, 0, gate.Healthy, 2},
		{"web", web, 1, gate.Members, 5}, {"web", web, 1, gate.Took, 3}, {"web", web, 1, gate.Healthy, 1},
		{"db", db, 0, gate.Members, 3}, {"db", db, 0, gate.Took, 3}, {"db", db, 0, gate.Healthy, 3},
	} {
		f.count(t, c.entry, c.sum, c.wave, c.k, c.n)
	}

	t.Run("shows each wave's counts, which started, and why the next is shut", func(t *testing.T) {
		r := f.run(t, "rollout", "status")
		for _, line := range []string{
			`^  1\s+1%\s+2\s+2\s+0\s+2\s+0\s+0\s+yes\s+open: first wave$`,
			`^  2\s+10%\s+5\s+3\s+2\s+1\s+0\s+0\s+yes\s+shut: waits for the earlier waves to bake until \S+$`,
			`^  3\s+50%\s+0\s+0\s+0\s+0\s+0\s+0\s+no\s+shut: waits for wave 2: 4 of its 5 nodes have not reported healthy yet$`,
			`^  all\s+7\s+5\s+2\s+3\s+0\s+0\s*$`,
			`^  state:    wave 1 of 4 open; wave 2 waits for the earlier waves to bake until \S+$`,
			`^  2\s+100%\s+0\s+0\s+0\s+0\s+0\s+0\s+no\s+open: the earlier waves baked healthy for 0s$`,
		} {
			if !hasLine(r.stdout, line) {
				t.Errorf("no line %s:\n%s", line, r.stdout)
			}
		}
		if r.code != 0 || strings.Contains(r.stdout, "no rollout gate yet") {
			t.Fatalf("rollout status: %+v", r)
		}
		doc := f.status(t)
		w := entryOf(t, doc, "web")
		if !doc.Gate || w.State != "waiting" || w.OpenWaves != 1 || !strings.HasPrefix(w.Reason, "waits for the earlier waves to bake until ") {
			t.Fatalf("web %+v", w)
		}
		if got := waveCounts(w.Waves[1]); got != "10% 5 3 2 1 0 0" || !w.Waves[1].Started || w.Waves[1].Open || w.Waves[1].Changed.IsZero() {
			t.Errorf("wave 2: %s %+v", got, w.Waves[1])
		}
		if until := w.Waves[1].Until; until.Before(time.Now().Add(4*time.Minute)) || until.After(time.Now().Add(5*time.Minute)) {
			t.Errorf("wave 2 waits until %v, want the 5m bake from wave 1's last health report", until)
		}
		if w.Total != (rolloutCountsDoc{Members: 7, Installed: 5, Waiting: 2, Healthy: 3}) {
			t.Errorf("total %+v", w.Total)
		}
	})

	t.Run("pause needs no key, stops every wave, and says who and why", func(t *testing.T) {
		r := f.run(t, "rollout", "pause", "web", "--reason", "looking at errors", "--by", "alice")
		if r.code != 0 || !strings.Contains(r.stdout, `Paused "web" (change `+gate.ChangeID("web", web)) || !strings.Contains(r.stdout, "by alice: looking at errors") {
			t.Fatalf("pause: %+v", r)
		}
		if c, _ := f.controls(t, "web", web); c.Paused == nil || c.Paused.By != "alice" || c.Paused.Reason != "looking at errors" {
			t.Fatalf("the gate reads the pause %+v", c.Paused)
		}
		w := entryOf(t, f.status(t), "web")
		if w.State != "paused" || !w.Paused || w.Pause == nil || w.Pause.By != "alice" || w.OpenWaves != 0 || !strings.HasPrefix(w.Reason, "paused by alice at ") || w.Waves[0].Open {
			t.Fatalf("web %+v", w)
		}
		text := f.run(t, "rollout", "status", "web")
		if !hasLine(text.stdout, `^  state:    PAUSED by alice at \S+: looking at errors; no node installs it until a signed mms rollout resume$`) {
			t.Errorf("text:\n%s", text.stdout)
		}
	})

	t.Run("--checksum pauses another change of the entry, by $USER@hostname by default", func(t *testing.T) {
		r := f.run(t, "rollout", "pause", "db", "--checksum", strings.ToUpper(web))
		if r.code != 0 || !strings.Contains(r.stdout, gate.ChangeID("db", web)) {
			t.Fatalf("pause --checksum: %+v", r)
		}
		if c, _ := f.controls(t, "db", web); c.Paused == nil || !strings.Contains(c.Paused.By, "@") {
			t.Fatalf("the other change reads %+v", c.Paused)
		}
		if d := entryOf(t, f.status(t), "db"); d.Paused || d.State != "open" {
			t.Fatalf("the published change of db is paused: %+v", d)
		}
		if r := f.run(t, "rollout", "pause", "db", "--checksum", "abc"); r.code != 2 {
			t.Errorf("--checksum abc: %+v", r)
		}
	})

	stranger, strangerPriv := keyPair(t, f.dir)
	t.Run("a resume signed by a key the nodes do not trust does not lift the pause", func(t *testing.T) {
		r := f.run(t, "rollout", "resume", "web", strangerPriv, "--by", "mallory")
		if r.code != 0 {
			t.Fatalf("resume, checked against its own key only: %+v", r)
		}
		c, refused := f.controls(t, "web", web)
		if c.Resumed != nil || len(refused) != 1 || !strings.Contains(refused[0], "resume of change") {
			t.Fatalf("a node trusting %s took the stranger's resume: %+v, refused %v", f.pub, c, refused)
		}
		w := entryOf(t, f.status(t, "--public-key", f.pub), "web")
		if w.State != "paused" || w.Resume != nil || !w.ControlsVerified || len(w.RefusedControls) != 1 {
			t.Fatalf("status with the trusted key: %+v", w)
		}
		text := f.run(t, "rollout", "status", "web", "--public-key", f.pub)
		if !hasLine(text.stdout, `^  refused:  resume of change \S+ refused: .*`) || !strings.Contains(text.stdout, "PAUSED by alice") {
			t.Errorf("text:\n%s", text.stdout)
		}
		// Without keys the resume is shown, as read, unverified.
		u := entryOf(t, f.status(t), "web")
		if u.ControlsVerified || u.Resume == nil || u.Resume.By != "mallory" {
			t.Errorf("status without keys: %+v", u)
		}
		if text := f.run(t, "rollout", "status", "web"); !strings.Contains(text.stdout, "resumed:  by mallory at ") || !strings.Contains(text.stdout, "signature NOT VERIFIED") {
			t.Errorf("text without keys:\n%s", text.stdout)
		}
		if r := f.run(t, "rollout", "resume", "web", strangerPriv, "--public-key", f.pub); r.code != 2 || !strings.Contains(r.stderr, "public key "+stranger+" is not among the --public-key given") {
			t.Errorf("a KEY whose public half is not trusted: %+v", r)
		}
	})

	t.Run("resume and promote refuse to run without a key", func(t *testing.T) {
		for _, args := range [][]string{{"resume", "web"}, {"promote", "web", "--wave", "2"}} {
			r := f.run(t, append([]string{"rollout"}, args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, "resume and promote must be signed by a key the nodes trust; pause needs none") {
				t.Errorf("%v: %+v", args, r)
			}
		}
	})

	t.Run("a resume signed by a trusted key, from $KEY, lifts the pause", func(t *testing.T) {
		r := runCmd(t, mmsPath(t), f.dir, nil, []string{"KEY=" + f.priv}, "rollout", "resume", "web", "--public-key", f.pub, "--reason", "fixed", "--by", "bob", "--server", f.url)
		if r.code != 0 || !strings.Contains(r.stdout, `Resumed "web"`) || !strings.Contains(r.stdout, "by bob: fixed: the pause is lifted") {
			t.Fatalf("resume: %+v", r)
		}
		c, refused := f.controls(t, "web", web)
		if c.Resumed == nil || c.Resumed.By != "bob" || !c.Resumed.At.After(c.Paused.At) || len(refused) != 0 {
			t.Fatalf("the gate reads %+v (resume %+v), refused %v", c, c.Resumed, refused)
		}
		w := entryOf(t, f.status(t, "--public-key", f.pub), "web")
		if w.Paused || w.State != "waiting" || w.OpenWaves != 1 {
			t.Fatalf("web %+v", w)
		}
		if text := f.run(t, "rollout", "status", "web", "--public-key", f.pub); !hasLine(text.stdout, `^  resumed:  by bob at \S+: fixed; the pause is lifted$`) {
			t.Errorf("text:\n%s", text.stdout)
		}
		again := f.run(t, "rollout", "resume", "web", f.priv)
		if again.code != 1 || !strings.Contains(again.stderr, "is lifted already, by the resume by bob") {
			t.Errorf("a second resume: %+v", again)
		}
		if r := f.run(t, "rollout", "resume", "db", f.priv); r.code != 1 || !strings.Contains(r.stderr, "the change is not paused: nothing to resume") {
			t.Errorf("resume of a change never paused: %+v", r)
		}
	})

	t.Run("promote opens the waves up to N, only when signed by a trusted key", func(t *testing.T) {
		for _, wave := range []string{"0", "5"} {
			r := f.run(t, "rollout", "promote", "web", "--wave", wave, f.priv)
			if r.code != 1 || !strings.Contains(r.stderr, "out of range: its policy in MACHINES/machines revision 1") || !strings.Contains(r.stderr, "has 4 waves (1 to 4)") {
				t.Errorf("--wave %s: %+v", wave, r)
			}
		}
		if r := f.run(t, "rollout", "promote", "web", "--wave", "4", strangerPriv); r.code != 0 {
			t.Fatalf("the stranger's promotion: %+v", r)
		}
		if c, refused := f.controls(t, "web", web); c.PromotedTo != 0 || len(refused) != 1 {
			t.Fatalf("a node trusting %s took the stranger's promotion: %+v, refused %v", f.pub, c, refused)
		}
		r := f.run(t, "rollout", "promote", "web", "--wave", "3", f.priv, "--public-key", f.pub)
		if r.code != 0 || !strings.Contains(r.stdout, "to wave 3 of 4") {
			t.Fatalf("promote: %+v", r)
		}
		if c, _ := f.controls(t, "web", web); c.PromotedTo != 3 {
			t.Fatalf("the gate reads a promotion to %d", c.PromotedTo)
		}
		w := entryOf(t, f.status(t, "--public-key", f.pub), "web")
		if w.PromotedTo != 3 || w.OpenWaves != 3 || w.Waves[3].Open || w.Reason != "waits for wave 2: 4 of its 5 nodes have not reported healthy yet" {
			t.Fatalf("web %+v", w)
		}
		if text := f.run(t, "rollout", "status", "web", "--public-key", f.pub); !hasLine(text.stdout, `^  promoted: to wave 3$`) || !hasLine(text.stdout, `^  state:    waves 1 to 3 of 4 open; wave 4 waits for wave 2: .*`) || !hasLine(text.stdout, `^  3\s+50%.*open: promoted to wave 3$`) {
			t.Errorf("text:\n%s", text.stdout)
		}
	})

	t.Run("past the failure budget the change shows halted, and no resume or promotion is written", func(t *testing.T) {
		f.count(t, "web", web, 1, gate.Unhealthy, 1) // 1 of the 5 that took it: beyond 5%
		w := entryOf(t, f.status(t, "--public-key", f.pub), "web")
		const why = "1 of the 5 nodes that took it are unhealthy, beyond max_unhealthy 5%"
		if !w.Halted || w.State != "halted" || w.Halt != nil || w.BudgetExceeded != why || w.OpenWaves != 0 {
			t.Fatalf("web %+v", w)
		}
		text := f.run(t, "rollout", "status", "web", "--public-key", f.pub)
		if !hasLine(text.stdout, `^  state:    HALTED: `+why+`; no further node installs it, every node that took it reverts; only a new specification that changes web lifts it$`) {
			t.Errorf("text:\n%s", text.stdout)
		}
		// The first node to see it records the halt.
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if err := f.gate.Put(ctx, gate.Control{Action: gate.ActionHalt, Change: gate.ChangeID("web", web), Entry: "web", By: "web7", Reason: why}, nil); err != nil {
			t.Fatal(err)
		}
		w = entryOf(t, f.status(t, "--public-key", f.pub), "web")
		if w.Halt == nil || w.Halt.By != "web7" || w.Halt.Reason != why {
			t.Fatalf("halt %+v", w.Halt)
		}
		if text := f.run(t, "rollout", "status", "web"); !strings.Contains(text.stdout, "HALTED: "+why+" (recorded by web7 at ") {
			t.Errorf("text:\n%s", text.stdout)
		}
		before, _ := f.controls(t, "web", web)
		for _, args := range [][]string{{"resume", "web", f.priv}, {"promote", "web", "--wave", "4", f.priv}} {
			r := f.run(t, append([]string{"rollout"}, args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, "the change is halted ("+why+")") || !strings.Contains(r.stderr, "cannot lift a halt") {
				t.Errorf("%v: %+v", args, r)
			}
		}
		if after, _ := f.controls(t, "web", web); after.PromotedTo != before.PromotedTo || !after.Resumed.At.Equal(before.Resumed.At) {
			t.Errorf("a refused control was written: %+v", after)
		}
		if r := f.run(t, "rollout", "pause", "web"); r.code != 0 || !strings.Contains(r.stderr, "halted already") {
			t.Errorf("pause of a halted change: %+v", r)
		}
	})

	t.Run("controls refuse an entry not in the specification or without a policy", func(t *testing.T) {
		for entry, says := range map[string]string{"bare": "has no rollout policy", "nope": "has no such entry (it has web, db, bare)"} {
			r := f.run(t, "rollout", "pause", entry)
			if r.code != 1 || !strings.Contains(r.stderr, says) {
				t.Errorf("pause %s: %+v", entry, r)
			}
		}
	})
}

// TestRolloutPauseOrdersAfterEveryResume: a pause written by an operator whose clock is behind
// the last resume still pauses; a resume dates itself after the pause it lifts.
func TestRolloutPauseOrdersAfterEveryResume(t *testing.T) {
	f := newStagedFleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	g, err := gate.Ensure(ctx, f.js, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := gate.ChangeID("web", testSumA)
	future := time.Now().Add(time.Hour).UTC()
	key := hexPrivate(t, f.priv)
	if err := g.Put(ctx, gate.Control{Action: gate.ActionResume, Change: id, At: future}, key); err != nil {
		t.Fatal(err)
	}
	if r := f.run(t, "rollout", "pause", "web"); r.code != 0 {
		t.Fatalf("pause: %+v", r)
	}
	c, _ := f.controls(t, "web", testSumA)
	if c.Paused == nil || !c.Paused.At.After(future) {
		t.Fatalf("the pause %+v does not order after the resume at %v: it would be lifted at once", c.Paused, future)
	}
	if r := f.run(t, "rollout", "resume", "web", f.priv); r.code != 0 {
		t.Fatalf("resume: %+v", r)
	}
	if c, _ := f.controls(t, "web", testSumA); c.Resumed == nil || !c.Resumed.At.After(c.Paused.At) {
		t.Fatalf("the resume %+v does not lift the pause %+v", c.Resumed, c.Paused)
	}
}

// hexPrivate decodes a private key as mms keys prints it.
func hexPrivate(t *testing.T, priv string) ed25519.PrivateKey {
	t.Helper()
	raw, err := hex.DecodeString(priv)
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		t.Fatalf("private key %q: %v", priv, err)
	}
	return ed25519.PrivateKey(raw)
}

// TestRolloutStatusWatch: --watch redraws every --interval until interrupted, and refuses
// --json.
func TestRolloutStatusWatch(t *testing.T) {
	f := newStagedFleet(t)
	p := startMMS(t, f.dir, "rollout", "status", "db", "--watch", "--interval", "200ms", "--server", f.url)
	testwait.Eventually(t, waitLong, "a screen", func() bool {
		return strings.Contains(p.stdout.String(), "---\nStaged rollouts of MACHINES/machines revision 1") && strings.Contains(p.stdout.String(), "no rollout gate yet")
	})
	f.count(t, "db", testSumB, 0, gate.Members, 7)
	testwait.Eventually(t, waitLong, "a screen with the new count", func() bool { return hasLine(p.stdout.String(), `^  1\s+50%\s+7\s+0\s+7\s+.*`) })
	if code := p.stop(t); code != 0 {
		t.Errorf("--watch exited %d on SIGTERM", code)
	}
	if r := f.run(t, "rollout", "status", "--watch", "--json"); r.code != 2 {
		t.Errorf("--watch --json: %+v", r)
	}
	if r := f.run(t, "rollout", "status", "--watch", "--interval", "1ms"); r.code != 2 {
		t.Errorf("--interval 1ms: %+v", r)
	}
}

// TestJudgeRollout judges counts and controls as the nodes of each wave would, in process.
func TestJudgeRollout(t *testing.T) {
	p, err := rollout.ParsePolicy([]byte(`{"waves": ["10%", "50%", "100%"], "bake": "1m", "max_unhealthy": "2"}`))
	if err != nil {
		t.Fatal(err)
	}
	e := stagedEntry(p)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	g := rollout.Gate{Bake: p.Bake, Budget: p.MaxUnhealthy, Quiet: 3 * time.Minute, Seen: now.Add(-time.Hour)}
	t.Run("a wave whose silent nodes went quiet for the status freshness holds nothing up", func(t *testing.T) {
		tally := rollout.Tally{{Members: 3, Took: 3, Healthy: 2, Changed: now.Add(-4 * time.Minute), HealthChanged: now.Add(-4 * time.Minute)}}
		d := judgeRollout(e, g, tally, rollout.Controls{}, now)
		if d.State != "open" || d.OpenWaves != 3 || d.Total.Waiting != 0 || !d.Waves[0].Started || d.Waves[1].Started {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("counters that say more took it than registered never show a negative wait", func(t *testing.T) {
		d := judgeRollout(e, g, rollout.Tally{{Members: 1, Took: 2}}, rollout.Controls{}, now)
		if d.Waves[0].Waiting != 0 || d.Total.Waiting != 0 {
			t.Fatalf("%+v", d.Waves[0])
		}
	})
	t.Run("a resume older than the pause does not lift it", func(t *testing.T) {
		ctl := rollout.Controls{Paused: &rollout.Note{By: "ops", At: now}, Resumed: &rollout.Note{At: now.Add(-time.Second)}}
		if d := judgeRollout(e, g, nil, ctl, now); !d.Paused || d.State != "paused" || d.OpenWaves != 0 {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("a halt outranks a pause, and both are said", func(t *testing.T) {
		ctl := rollout.Controls{Halted: &rollout.Note{By: "n1", Reason: "3 of 4"}, Paused: &rollout.Note{At: now}}
		d := judgeRollout(e, g, nil, ctl, now)
		if d.State != "halted" || !d.Halted || !d.Paused || d.BudgetExceeded != "" || d.Reason != "halted: 3 of 4" {
			t.Fatalf("%+v", d)
		}
	})
}
