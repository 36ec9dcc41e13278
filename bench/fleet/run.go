package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go/jetstream"
)

// The scenarios.
const (
	scenarioRollout  = "rollout"  // a first machine onto every node
	scenarioUpdate   = "update"   // a new version of one of two installed machines
	scenarioPurge    = "purge"    // one of two installed machines dropped from the specification
	scenarioTargeted = "targeted" // a first machine whose matcher is true on 10% of the nodes
	scenarioFailover = "failover" // rollout while the bucket's stream leader is killed (-cluster)
)

// Where the specification lives.
const (
	bucket = "MACHINES"
	key    = "machines"
)

// options are the simulator's settings.
type options struct {
	Nodes    int
	Cluster  bool
	Scenario string
	Splay    time.Duration
	Interval time.Duration // each node's loop interval; longer than Idle so that idle means idle
	Idle     time.Duration // the idle window over which server messages are counted; 0 skips it
	Timeout  time.Duration // how long each phase may take to converge
	Dir      string        // where the nodes' directories go; empty for a temporary one
	Progress io.Writer     // progress lines
	Verbose  bool          // the nodes' warnings to Progress; otherwise only errors
	// Log, when set, receives every node's log at debug level, timestamped: a timeline of
	// what each node did when (Progress keeps its errors, or warnings with Verbose).
	Log    io.Writer
	Status bool // every node publishes its fleet status, as mms agent does
	// Source is where the archives come from: sourceHTTP or sourceObj.
	Source string
	// ArchiveSize, when positive, adds a file of that many incompressible bytes to every
	// machine archive; 0 keeps the ~1 KiB machines.
	ArchiveSize int64
	// ServerProcess runs the NATS servers in a child process, so that their CPU is measured
	// apart from the nodes'.
	ServerProcess bool
	// Waves, Bake and Deadline are the rollout policy of the staged scenarios' change
	// (waves comma-separated, durations as Go writes them); RolloutPoll is each node's
	// rollout_poll.
	Waves, Bake, Deadline string
	RolloutPoll           time.Duration
}

// report is everything one run measured and checked.
type report struct {
	result
	Targets int    // nodes the measured change is for
	Killed  string // the server killed (failover)
	// Consumers is how many consumers the servers created on the archive bucket's stream
	// over the measured phase (-source obj): their own count of Object Store reads.
	Consumers int64
	IdleMsgs  int64 // messages the servers received over the idle window
	// StatusLanded is when the last node's status said the measured revision (with -status).
	StatusLanded time.Duration
	Problems     []string // aims the run missed
	// Extra is what a scenario adds to the last line (the staged ones' figures).
	Extra string
}

// targeted tells whether node i is one the targeted scenario's matcher selects.
func targeted(i int) bool { return i%10 == 0 }

// targetMatcher selects the nodes whose identity ends in 0: 10% of them.
const targetMatcher = `identity("^node-[0-9]*0$")`

func run(ctx context.Context, o options) (*report, error) {
	switch o.Scenario {
	case scenarioRollout, scenarioUpdate, scenarioPurge, scenarioTargeted, scenarioStagedGood, scenarioStagedBad, scenarioStagedPause:
	case scenarioFailover:
		if !o.Cluster {
			return nil, errors.New("-scenario failover needs -cluster")
		}
	default:
		return nil, fmt.Errorf("unknown scenario %q: rollout, update, purge, targeted, failover, staged-good, staged-bad or staged-pause", o.Scenario)
	}
	switch o.Source {
	case "":
		o.Source = sourceHTTP
	case sourceHTTP, sourceObj:
	default:
		return nil, fmt.Errorf("unknown source %q: http or obj", o.Source)
	}
	if o.ArchiveSize < 0 || o.ArchiveSize > fetch.DefaultMaxBytes/2 {
		return nil, fmt.Errorf("-archive-size %d: from 0 to %d bytes (half the nodes' max_download_bytes)", o.ArchiveSize, fetch.DefaultMaxBytes/2)
	}
	if o.Source == sourceObj && o.ArchiveSize > maxObjArchiveSize {
		return nil, fmt.Errorf("-archive-size %d: at most %d bytes with -source obj (the embedded servers' JetStream store holds %d bytes, and three archives)", o.ArchiveSize, maxObjArchiveSize, embednats.DefaultMaxStore)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Progress, format+"\n", a...) }
	if lim, err := raiseFileLimit(); err != nil {
		say("could not raise the open files limit: %v", err)
	} else if need := uint64(4*o.Nodes + 256); lim < need {
		return nil, fmt.Errorf("open files limit %d is below the %d that %d nodes need: raise ulimit -n", lim, need, o.Nodes)
	}
	root := o.Dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "mms-fleet-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}

	var srvs natsServers
	var err error
	if o.ServerProcess {
		srvs, err = startChildServers(root, o.Cluster)
	} else {
		srvs, err = startServers(root, o.Cluster)
	}
	if err != nil {
		return nil, err
	}
	defer srvs.shutdown()
	arch, err := newArchiveServer()
	if err != nil {
		return nil, err
	}
	defer arch.close()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	sign := &signer{priv: priv, ver: 1}

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	pc, err := kvspec.Connect(cctx, srvs.urls(), "")
	cancel()
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	js, err := jetstream.New(pc)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = js.CreateKeyValue(bctx, jetstream.KeyValueConfig{Bucket: bucket, History: kvspec.DefaultHistory, Replicas: srvs.replicas(), Storage: jetstream.FileStorage})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	if o.Status {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = fleet.EnsureBucket(bctx, js, fleet.BucketConfig(fleet.DefaultBucket, srvs.replicas(), 0))
		cancel()
		if err != nil {
			return nil, err
		}
	}

	// The archives, and who counts their downloads.
	put, downloads := func(object string, body []byte) (string, error) { return arch.put("/"+object, body), nil }, arch.tally
	var objReads *tally
	var consumers *consumerCounter
	if o.Source == sourceObj {
		put, objReads = publishObj(ctx, js, srvs.replicas()), newTally()
		downloads = objReads
		if consumers, err = countConsumers(pc); err != nil {
			return nil, err
		}
	}
	var machinesBuilt [5]spec.Entry
	for i, m := range [][2]string{{"web", "1"}, {"web", "2"}, {"base", "1"}, {"web", badVersion}, {"web", "3"}} {
		if machinesBuilt[i], err = buildMachine(put, root, m[0], m[1], o.ArchiveSize); err != nil {
			return nil, err
		}
	}
	web1, web2, base, webBad, web3 := machinesBuilt[0], machinesBuilt[1], machinesBuilt[2], machinesBuilt[3], machinesBuilt[4]
	policy, err := stagedPolicy(o)
	if err != nil {
		return nil, err
	}
	bctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	_, err = gate.Ensure(bctx, js, gate.Options{Replicas: srvs.replicas()})
	cancel()
	if err != nil {
		return nil, err
	}

	// Start the fleet.
	var current atomic.Pointer[phase]
	var probe atomic.Pointer[stagedProbe]
	level := slog.LevelError
	if o.Verbose {
		level = slog.LevelWarn
	}
	settings := nodeSettings{
		urls: srvs.urls(), bucket: bucket, key: key, pub: pub, interval: o.Interval, splay: o.Splay,
		log:    nodeLog(o, level),
		status: o.Status,
		obj:    objReads,
		poll:   cmp.Or(o.RolloutPoll, defaultPoll),
		staged: func(i int, st *nodeloop.Staging) {
			if p := probe.Load(); p != nil {
				p.moved(i, st)
			}
		},
		observe: func(i int, out nodeloop.Outcome) {
			if p := current.Load(); p != nil {
				p.observe(i, out)
			}
			if p := probe.Load(); p != nil {
				p.observe(i, out)
			}
		},
	}
	fctx, stopFleet := context.WithCancel(ctx)
	var nodes []*node
	defer func() {
		stopFleet()
		for _, n := range nodes {
			<-n.done
		}
	}()
	began := time.Now()
	for i := range o.Nodes {
		n, err := startNode(fctx, root, i, settings)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", identity(i), err)
		}
		nodes = append(nodes, n)
	}
	say("started %d nodes (%s NATS%s, %d connections; archives of %d bytes from %s) in %s", o.Nodes,
		map[bool]string{true: "3-server cluster, buckets R3", false: "one server"}[o.Cluster],
		map[bool]string{true: " in a child process", false: ""}[o.ServerProcess], o.Nodes,
		o.ArchiveSize, map[string]string{sourceHTTP: "the HTTP server", sourceObj: "the Object Store bucket " + objBucket}[o.Source],
		time.Since(began).Round(time.Millisecond))

	// Prepare: every node reconciles a first specification, proving its watch works.
	var warm, measured []spec.Entry
	var want func(i int, rep *machines.Report) bool
	expected := func(i int) bool { return true }
	switch o.Scenario {
	case scenarioRollout, scenarioFailover:
		measured = []spec.Entry{web1}
		want = func(_ int, rep *machines.Report) bool { return hasResult(rep, "web", machines.ActionInstall) }
	case scenarioTargeted:
		t := web1
		t.Match = targetMatcher
		measured = []spec.Entry{t}
		expected = targeted
		want = func(i int, rep *machines.Report) bool {
			if targeted(i) {
				return hasResult(rep, "web", machines.ActionInstall)
			}
			return hasResult(rep, "web", machines.ActionSkip)
		}
	case scenarioUpdate:
		warm, measured = []spec.Entry{base, web1}, []spec.Entry{base, web2}
		want = func(_ int, rep *machines.Report) bool { return hasResult(rep, "web", machines.ActionUpdate) }
	case scenarioPurge:
		warm, measured = []spec.Entry{base, web1}, []spec.Entry{base}
		want = func(_ int, rep *machines.Report) bool { return hasResult(rep, "web", machines.ActionRemove) }
	case scenarioStagedGood, scenarioStagedPause, scenarioStagedBad:
		warm = []spec.Entry{web1}
	}
	warmRev, err := publishAndWait(ctx, js, sign, warm, o.Nodes, o.Timeout, &current, func(_ int, rep *machines.Report) bool { return rep.Err == nil && !rep.Failed() })
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	say("prepared: every node reconciled revision %d (%d entries) in %s", warmRev, len(warm), time.Since(began).Round(time.Millisecond))
	if o.Status {
		// Start the measured phase from an idle fleet: the preparing statuses landed.
		sctx, cancel := context.WithTimeout(ctx, o.Timeout)
		_, err := statusesOn(sctx, js, o.Nodes, warmRev, began)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}

	if isStaged(o.Scenario) {
		sr := stagedRun{o: o, js: js, sign: sign, entry: web2, warmRev: warmRev, current: &current, probe: &probe, say: say}
		switch o.Scenario {
		case scenarioStagedBad:
			sr.entry = webBad
		case scenarioStagedGood:
			// The same fleet takes a plain update first: what installing costs here, apart from
			// staging, to compare with.
			sr.plain, sr.entry = &web2, web3
		}
		sr.entry.Rollout = policy
		return sr.measure(ctx)
	}

	// Measure.
	rep := &report{}
	arch.reset()
	downloads.reset()
	var consumers0 int64
	if consumers != nil {
		consumers0 = consumers.n.Load()
	}
	cpu0 := cpuTime()
	srvCPU0, _, _ := srvs.usage()
	env, err := sign.pack(measured...)
	if err != nil {
		return nil, err
	}
	var leader int
	if o.Scenario == scenarioFailover {
		if leader, rep.Killed, err = streamLeader(ctx, srvs, js, bucket); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	p := newPhase(o.Nodes, warmRev+1, start, want)
	current.Store(p)
	pctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	rev, err := kvspec.Put(pctx, js, bucket, key, env, kvspec.BucketConfig{})
	if err != nil {
		return nil, fmt.Errorf("put: %w", err)
	}
	killed := make(chan struct{})
	if o.Scenario == scenarioFailover {
		// Kill the stream leader while the nodes are receiving the change and downloading.
		go func() {
			defer close(killed)
			srvs.kill(leader)
			say("killed %s, the bucket's stream leader, right after the put; it was down %s after the put", rep.Killed, time.Since(start).Round(time.Millisecond))
		}()
	} else {
		close(killed)
	}
	werr := p.wait(pctx)
	<-killed
	if werr != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, werr)
	}
	cpu := cpuTime() - cpu0
	srvCPU, srvRSS, apart := srvs.usage()
	c := downloads.snapshot()
	times := p.durations(expected)
	rep.result = result{
		Nodes: o.Nodes, Latency: summarise(times), Requests: c.Total, PeakDownloads: c.Peak,
		CPUSeconds: cpu.Seconds(), RSSMiB: peakRSSMiB(),
		ServersApart: apart, ServerCPUSeconds: (srvCPU - srvCPU0).Seconds(), ServerRSSMiB: srvRSS,
	}
	rep.Targets = len(times)
	rep.Problems = check(o, rep, c, base)
	if o.Source == sourceObj {
		if h := arch.snapshot(); h.Total > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%d HTTP requests with -source obj", h.Total))
		}
		// The advisories of the last reads may still be on their way: give them a moment.
		for deadline := time.Now().Add(time.Second); consumers.n.Load()-consumers0 < c.Total && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		rep.Consumers = consumers.n.Load() - consumers0
		say("the servers created %d consumers on the stream OBJ_%s (one per Object Store read; the nodes counted %d reads)", rep.Consumers, objBucket, c.Total)
	}
	say("converged: %d of %d nodes changed, the last %s after the put", rep.Targets, o.Nodes, rep.Latency.Max.Round(time.Millisecond))
	if o.Status {
		// Every node's status says so too, before the idle window starts.
		if rep.StatusLanded, err = statusesOn(pctx, js, o.Nodes, rev, start); err != nil {
			return nil, err
		}
		say("fleet status: every node reported revision %d %s after the put", rev, rep.StatusLanded.Round(time.Millisecond))
	}

	if o.Idle > 0 {
		m0 := srvs.inMsgs()
		time.Sleep(o.Idle) // the measurement window itself, not a wait for something
		rep.IdleMsgs = srvs.inMsgs() - m0
		say("idle: the servers received %d messages in %s (node interval %s)", rep.IdleMsgs, o.Idle, o.Interval)
		if !o.Cluster && rep.IdleMsgs != 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("an idle fleet sent %d messages in %s", rep.IdleMsgs, o.Idle))
		}
	}
	return rep, nil
}

// publishAndWait publishes entries and waits until each of nodes has reconciled that revision
// (the bucket is new: any revision) to the satisfaction of want; it returns the revision.
func publishAndWait(ctx context.Context, js jetstream.JetStream, sign *signer, entries []spec.Entry, nodes int, timeout time.Duration, current *atomic.Pointer[phase], want func(int, *machines.Report) bool) (uint64, error) {
	env, err := sign.pack(entries...)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := newPhase(nodes, 0, time.Now(), want)
	current.Store(p)
	rev, err := kvspec.Put(ctx, js, bucket, key, env, kvspec.BucketConfig{})
	if err != nil {
		return 0, err
	}
	return rev, p.wait(ctx)
}

// statusesOn reads the status bucket until every one of nodes says revision rev, and returns
// how long after start that was.
func statusesOn(ctx context.Context, js jetstream.JetStream, nodes int, rev uint64, start time.Time) (time.Duration, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		statuses, _, err := fleet.Read(ctx, js, fleet.DefaultBucket)
		if err != nil {
			return 0, err
		}
		on := 0
		for _, s := range statuses {
			if s.Spec != nil && s.Spec.Revision >= rev {
				on++
			}
		}
		if on == nodes {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d statuses on revision %d: %w", on, nodes, rev, ctx.Err())
		case <-tick.C:
		}
	}
}

// nodeLog is the nodes' logger: level and above to o.Progress, and with o.Log everything there
// too.
func nodeLog(o options, level slog.Level) *slog.Logger {
	progress := slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: level})
	if o.Log == nil {
		return slog.New(progress)
	}
	return slog.New(slog.NewMultiHandler(progress, slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug})))
}
