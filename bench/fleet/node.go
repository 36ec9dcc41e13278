package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/internal/buildinfo"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// node is one simulated node: its own identity, facts, machines directory and NATS
// connection, running the agent's loop.
type node struct {
	index int
	id    string
	dir   string
	nc    *nats.Conn
	done  chan struct{}
}

// identity names node i.
func identity(i int) string { return fmt.Sprintf("node-%d", i) }

// nodeSettings is what every node shares.
type nodeSettings struct {
	urls     string
	bucket   string
	key      string
	pub      ed25519.PublicKey
	interval time.Duration
	splay    time.Duration
	log      *slog.Logger
	observe  func(i int, o nodeloop.Outcome)
	// obj, when set, has every node read obj:// archives over its own connection, counting
	// its reads there.
	obj *tally
	// status, when set, has every node publish its fleet status to fleet.DefaultBucket, as
	// mms agent does, with the heartbeat interval.
	status bool
	// poll is each node's rollout_poll: every node stages changes as mms agent does, with the
	// simulated health check (simHealth).
	poll time.Duration
	// staged is told when a staged change moves on node i between reconciles.
	staged func(i int, st *nodeloop.Staging)
}

// startNode creates node i's machines directory under root, connects it and starts its loop
// until ctx is done.
func startNode(ctx context.Context, root string, i int, s nodeSettings) (*node, error) {
	n := &node{index: i, id: identity(i), dir: filepath.Join(root, identity(i)), done: make(chan struct{})}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, err
	}
	facts := fmt.Appendf(nil, `{"index":%d,"canary":%t,"region":"r%d"}`, i, i%10 == 0, i%3)
	mn, err := match.NewNode(n.id, facts, "")
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// One connection per node, as on a real fleet: each node has its own watch (an ordered
	// consumer on the server), its own reconnects and its own slow-consumer fate.
	nc, err := kvspec.Connect(cctx, s.urls, "", nats.Name(n.id))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	n.nc = nc
	log := s.log.With("node", n.id)
	f := fetch.DefaultOptions()
	f.UserAgent = userAgentPrefix + fmt.Sprint(i)
	f.Logger = log
	loop := &nodeloop.Loop{
		Config: machines.Config{
			Dir:    n.dir,
			Node:   mn,
			Trust:  spec.Trust{Keys: []ed25519.PublicKey{s.pub}},
			Purge:  true,
			Fetch:  f,
			Splay:  s.splay,
			Logger: log,
		},
		Source:   nodeloop.NewKVSource(js, s.bucket, s.key, kvspec.WatchOptions{Interval: s.interval, Logger: log, Conn: nc}),
		Interval: s.interval,
		Observers: []nodeloop.Observer{
			nodeloop.LastReportObserver{Dir: n.dir, Logger: log},
			nodeloop.ObserverFunc(func(o nodeloop.Outcome) { s.observe(i, o) }),
		},
	}
	loop.Staging = nodeloop.NewStaging(loop.Config, n.id, simHealth(n.dir), fleet.FreshFor(s.interval), s.poll)
	loop.Staging.UseGate(ctx, js, "")
	onChange := func() { s.staged(i, loop.Staging) }
	if s.obj != nil {
		if err := countObjSource(&loop.Config, js, fmt.Sprint(i), s.obj); err != nil {
			nc.Close()
			return nil, err
		}
	}
	if s.status {
		reporter := &fleet.Reporter{Identity: n.id, Host: "bench/fleet", Version: buildinfo.ModuleVersion(buildinfo.MMSModule), Dir: n.dir, Heartbeat: s.interval,
			Rollout: loop.Staging.Status}
		pub := fleet.NewPublisher(fleet.DefaultBucket, reporter, log)
		loop.Observers = append(loop.Observers, pub)
		onChange = func() { pub.Changed(); s.staged(i, loop.Staging) }
		go pub.Run(ctx, js)
	}
	loop.Staging.OnChange = onChange
	go func() {
		defer close(n.done)
		defer nc.Close()
		loop.Run(ctx)
	}()
	return n, nil
}

// phase waits for every node to reach a state: the reconcile of revision rev (or a later one)
// that want accepts. It records each node's time from start.
type phase struct {
	rev   uint64
	want  func(i int, rep *machines.Report) bool
	start time.Time

	mu    sync.Mutex
	times []time.Duration // per node; 0 until reached
	left  int
	all   chan struct{}
	fails []string // a few refusals and failures seen, for the report
}

func newPhase(nodes int, rev uint64, start time.Time, want func(int, *machines.Report) bool) *phase {
	return &phase{rev: rev, want: want, start: start, times: make([]time.Duration, nodes), left: nodes, all: make(chan struct{})}
}

// observe is called by node i's loop after each reconcile.
func (p *phase) observe(i int, o nodeloop.Outcome) {
	if o.Revision < p.rev || o.Report == nil {
		return
	}
	ok := p.want(i, o.Report)
	at := time.Since(p.start)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok && o.Report.Failed() && len(p.fails) < 5 {
		p.fails = append(p.fails, fmt.Sprintf("%s: %s", identity(i), failure(o.Report)))
	}
	if !ok || p.times[i] != 0 {
		return
	}
	p.times[i] = max(at, time.Nanosecond)
	p.left--
	if p.left == 0 {
		close(p.all)
	}
}

// wait waits until every node got there, or ctx is done.
func (p *phase) wait(ctx context.Context) error {
	select {
	case <-p.all:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("%d nodes did not converge (%v); failures seen: %v", p.left, context.Cause(ctx), p.fails)
	}
}

// durations returns the times of the nodes keep accepts.
func (p *phase) durations(keep func(i int) bool) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for i, d := range p.times {
		if keep(i) {
			out = append(out, d)
		}
	}
	return out
}

// failure describes what failed in rep.
func failure(rep *machines.Report) string {
	if rep.Err != nil {
		return rep.Err.Error()
	}
	for _, r := range rep.Results {
		if r.Failed() {
			return r.Name + ": " + r.Reason
		}
	}
	return "no failure"
}

// hasResult tells whether rep holds a successful result for name with action a.
func hasResult(rep *machines.Report, name string, a machines.Action) bool {
	if rep.Err != nil {
		return false
	}
	for _, r := range rep.Results {
		if r.Name == name && r.Action == a && !r.Failed() {
			return true
		}
	}
	return false
}
