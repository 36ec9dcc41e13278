package nodeloop

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// waitLong bounds waiting for something that should happen within moments.
const waitLong = 20 * time.Second

// bucket and key name the specification in every test.
const (
	bucket = "MACHINES"
	key    = "machines"
)

// fixture is an embedded server, a connection to it, an archive server and a signing key.
type fixture struct {
	t    *testing.T
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *testarchive.Server
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	ver  int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	nc, js := testnats.Connect(t, testnats.Start(t).ClientURL())
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, nc: nc, js: js, srv: testarchive.NewServer(t), pub: pub, priv: priv, ver: 1}
}

// entry serves an archive of machine name saying text and returns its entry.
func (f *fixture) entry(name, text string) spec.Entry {
	body, res := testarchive.Machine(f.t, name, map[string]string{"say.txt": text})
	url := f.srv.Put("/"+name+"-"+text+".tgz", body)
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

// put publishes entries as the next version signed with priv (nil: the fixture's key) and
// returns the revision.
func (f *fixture) put(priv ed25519.PrivateKey, entries ...spec.Entry) uint64 {
	f.t.Helper()
	if priv == nil {
		priv = f.priv
	}
	f.ver++
	env := testarchive.Envelope(f.t, priv, f.ver, time.Now().Add(-time.Minute), entries...)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	rev, err := kvspec.Put(ctx, f.js, bucket, key, env, kvspec.BucketConfig{})
	if err != nil {
		f.t.Fatal(err)
	}
	return rev
}

// run runs a Loop over dir, the fixture's key trusted and followed, until ctx ends, and
// returns what it observes; tweak may change the Loop first.
func (f *fixture) run(ctx context.Context, dir string, interval time.Duration, tweak func(*Loop)) *observed {
	f.t.Helper()
	obs := &observed{changed: make(chan struct{}), done: make(chan struct{})}
	log := slog.New(obs.logHandler())
	l := &Loop{
		Config:    machines.Config{Dir: dir, Trust: spec.Trust{Keys: []ed25519.PublicKey{f.pub}}, Purge: true, Logger: log},
		Source:    NewKVSource(f.js, bucket, key, kvspec.WatchOptions{Interval: interval, Logger: log, Conn: f.nc}),
		Interval:  interval,
		Observers: []Observer{LastReportObserver{Dir: dir, Logger: log}, ObserverFunc(obs.add)},
	}
	if tweak != nil {
		tweak(l)
	}
	go func() { defer close(obs.done); l.Run(ctx) }()
	return obs
}

// startCtx runs a Loop over dir until ctx ends; stopped waits for it.
func (f *fixture) startCtx(ctx context.Context, dir string, interval time.Duration) *observed {
	f.t.Helper()
	return f.run(ctx, dir, interval, nil)
}

// stopped waits until the loop has returned.
func (o *observed) stopped(t *testing.T) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(waitLong):
		t.Fatal("the loop did not stop")
	}
}

// start runs a Loop over dir until the test ends and returns what it observes.
func (f *fixture) start(dir string, interval time.Duration, tweak func(*Loop)) *observed {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	obs := f.run(ctx, dir, interval, tweak)
	f.t.Cleanup(func() { cancel(); <-obs.done })
	return obs
}

// observed collects a loop's outcomes and log messages.
type observed struct {
	mu       sync.Mutex
	outcomes []Outcome
	logs     []string
	changed  chan struct{} // closed and replaced on every addition
	done     chan struct{} // closed when a loop of startCtx returns
}

func (o *observed) add(out Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, out)
	o.notify()
}

// snapshot returns the outcomes so far.
func (o *observed) snapshot() []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.outcomes...)
}

// snapshotLogs returns the log messages so far.
func (o *observed) snapshotLogs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.logs...)
}

func (o *observed) notify() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// wait waits until cond holds on the outcomes and logs seen so far. cond runs on copies, with
// nothing held: it may ask the loop's parts, which log (into o) while they hold their locks.
func (o *observed) wait(t *testing.T, what string, cond func(outcomes []Outcome, logs []string) bool) {
	t.Helper()
	deadline := time.NewTimer(waitLong)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		outcomes, logs, ch := slices.Clone(o.outcomes), slices.Clone(o.logs), o.changed
		o.mu.Unlock()
		if cond(outcomes, logs) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// logHandler records every message the loop and the core log, after its level ("INFO ...").
func (o *observed) logHandler() slog.Handler { return &recorder{o: o} }

type recorder struct{ o *observed }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.o.mu.Lock()
	defer r.o.mu.Unlock()
	r.o.logs = append(r.o.logs, rec.Level.String()+" "+rec.Message)
	r.o.notify()
	return nil
}

// count returns how many messages contain text.
func count(logs []string, text string) int {
	n := 0
	for _, l := range logs {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// lastFor returns the last reconcile of revision rev with trigger tr.
func lastFor(outcomes []Outcome, rev uint64, tr Trigger) (Outcome, bool) {
	for i := len(outcomes) - 1; i >= 0; i-- {
		if outcomes[i].Revision == rev && outcomes[i].Has(tr) && outcomes[i].Report != nil {
			return outcomes[i], true
		}
	}
	return Outcome{}, false
}
