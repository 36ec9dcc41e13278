package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// demoStepTimeout bounds one step of mms demo; the steps take milliseconds.
const demoStepTimeout = 30 * time.Second

// demoIdentity is the node identity the demo's agent evaluates matchers as.
const demoIdentity = "demo.example.net"

func init() { registerCommand(configureDemo) }

type demoCommand struct {
	dir     string
	keep    bool
	verbose bool
}

func configureDemo(app *fisk.Application) {
	c := &demoCommand{}
	cmd := app.Command("demo", "Shows mms at work in one process on loopback: embedded NATS, a signed spec, the agent installing, updating and purging a machine").Action(action(c.run))
	cmd.Flag("dir", "The machines directory the demo's agent deploys into (created when missing)").Default(filepath.Join("mms-demo", "machines")).StringVar(&c.dir)
	cmd.Flag("keep", "Keeps the server and the agent running after the steps, until Ctrl-C").UnNegatableBoolVar(&c.keep)
	cmd.Flag("verbose", "Shows the agent's log").Short('v').UnNegatableBoolVar(&c.verbose)
}

// demoRun is one run of mms demo: what the steps set up for the ones after them.
type demoRun struct {
	dir     string // machines directory
	store   *install.Store
	work    string // temporary directory: NATS data, machine sources, key
	log     *slog.Logger
	ui      *stepPrinter
	srv     *embednats.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     ed25519.PublicKey
	priv    ed25519.PrivateKey
	archive *demoArchives
	entries map[string]spec.Entry // by machine version
	seen    *outcomes
	version int64 // last specification version published

	stopAgent context.CancelFunc // stops the agent loop
	agentDone chan struct{}      // closed when the agent loop has returned
}

func (c *demoCommand) run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := claimDemoDir(c.dir); err != nil {
		return usageError("demo: %v", err)
	}
	// Held for the whole demo: an agent or mms apply on the directory stops it here.
	st, err := install.Open(c.dir)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer st.Close()
	work, err := os.MkdirTemp("", "mms-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(work)
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	d := &demoRun{
		dir:     c.dir,
		store:   st,
		work:    work,
		log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		ui:      newStepPrinter(os.Stdout),
		entries: map[string]spec.Entry{},
		seen:    newOutcomes(),
	}
	defer d.close()

	fmt.Printf("mms demo: an agent keeps %s in line with a signed specification in NATS; loopback only.\n\n", c.dir)
	started := time.Now()
	steps := d.steps(ctx)
	for i, s := range steps {
		if err := d.ui.run(ctx, i+1, len(steps), s); err != nil {
			fmt.Printf("\nThe demo failed at step %d: %v\n", i+1, err)
			return fmt.Errorf("demo: step %d (%s): %w", i+1, s.title, err)
		}
	}
	fmt.Printf("\nAll %d steps worked in %s. See what mms manages there with: mms status --dir %s\n", len(steps), time.Since(started).Round(time.Millisecond), c.dir)
	if !c.keep {
		return nil
	}
	fmt.Printf("\nKeeping the agent running (Ctrl-C to stop). NATS: %s, bucket %s, key %s\n", d.srv.ClientURL(), defaultBucket, defaultKey)
	fmt.Printf("It trusts the public key %s; the private key is in %s while the demo runs.\n", hex.EncodeToString(d.pub), filepath.Join(work, "demo.key"))
	<-ctx.Done()
	return nil
}

// close stops what the steps started.
func (d *demoRun) close() {
	if d.stopAgent != nil {
		d.stopAgent()
		<-d.agentDone
	}
	if d.archive != nil {
		d.archive.close()
	}
	if d.nc != nil {
		d.nc.Close()
	}
	if d.srv != nil {
		d.srv.Shutdown()
	}
}

// steps are the demo's steps; ctx is the whole demo's, which the agent runs under.
func (d *demoRun) steps(ctx context.Context) []step {
	v1, v2 := demoVersions()
	return []step{
		{title: "Start an embedded NATS server with JetStream on loopback", do: d.startServer},
		{title: "Create a fresh ed25519 signing key", do: d.makeKey},
		{title: fmt.Sprintf("Build the example machine %q %s and %s into archives served over loopback HTTP", demoMachine, v1, v2), do: d.buildArchives},
		{title: "Start the agent on " + d.dir, do: func(context.Context) (string, error) { return d.startAgent(ctx) }},
		{title: fmt.Sprintf("Publish a signed specification with %s %s: the agent installs it", demoMachine, v1), do: func(sctx context.Context) (string, error) {
			return d.publishAndWait(sctx, []string{v1}, installed(v1))
		}},
		{title: fmt.Sprintf("Publish %s %s: the agent updates it in place, atomically", demoMachine, v2), do: func(sctx context.Context) (string, error) {
			return d.publishAndWait(sctx, []string{v2}, updated(v2))
		}},
		{title: fmt.Sprintf("Publish a specification without %s: the agent purges it", demoMachine), do: func(sctx context.Context) (string, error) {
			return d.publishAndWait(sctx, nil, purged())
		}},
	}
}

func (d *demoRun) startServer(context.Context) (string, error) {
	srv, err := embednats.Start(embednats.Options{StoreDir: filepath.Join(d.work, "nats")})
	if err != nil {
		return "", err
	}
	d.srv = srv
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if d.nc, err = kvspec.Connect(ctx, srv.ClientURL(), ""); err != nil {
		return "", err
	}
	if d.js, err = jetstream.New(d.nc); err != nil {
		return "", err
	}
	if err := createBucket(ctx, d.js, defaultBucket); err != nil {
		return "", err
	}
	return srv.ClientURL(), nil
}

func (d *demoRun) makeKey(context.Context) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	d.pub, d.priv = pub, priv
	if err := writeNewFile(filepath.Join(d.work, "demo.key"), []byte(hex.EncodeToString(priv)+"\n"), 0o600); err != nil {
		return "", err
	}
	return "public key " + hex.EncodeToString(pub)[:16] + "…", nil
}

// startAgent runs the agent loop, as mms agent runs it, until ctx (the demo's) is done.
func (d *demoRun) startAgent(ctx context.Context) (string, error) {
	node, err := match.NewNode(demoIdentity, nil, "")
	if err != nil {
		return "", err
	}
	cfg := machines.Config{
		Dir:    d.dir,
		Node:   node,
		Trust:  spec.Trust{Keys: []ed25519.PublicKey{d.pub}},
		Purge:  true,
		Logger: d.log,
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var opts []nats.Option
	if d.log.Enabled(ctx, slog.LevelInfo) {
		opts = append(opts, kvspec.LogEvents(d.log))
	}
	nc, err := kvspec.Connect(cctx, d.srv.ClientURL(), "", opts...)
	if err != nil {
		return "", err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return "", err
	}
	loop := &nodeloop.Loop{
		Config:    cfg,
		Source:    nodeloop.NewKVSource(js, defaultBucket, defaultKey, kvspec.WatchOptions{Interval: nodeloop.DefaultInterval, Logger: d.log, Conn: nc}),
		Observers: []nodeloop.Observer{nodeloop.LastReportObserver{Dir: cfg.Dir, Logger: d.log}, nodeloop.ObserverFunc(d.seen.add)},
		Store:     d.store,
	}
	actx, stop := context.WithCancel(ctx)
	d.stopAgent, d.agentDone = stop, make(chan struct{})
	go func() {
		defer close(d.agentDone)
		defer nc.Close()
		loop.Run(actx)
	}()
	return fmt.Sprintf("identity %s, purge on, re-verifies every %s", demoIdentity, nodeloop.DefaultInterval), nil
}

// publishAndWait publishes a specification holding the given versions of the example machine,
// waits for the agent's reconcile of it and checks the outcome with check.
func (d *demoRun) publishAndWait(ctx context.Context, versions []string, check func(dir string, rep *machines.Report) (string, error)) (string, error) {
	var entries []spec.Entry
	for _, v := range versions {
		entries = append(entries, d.entries[v])
	}
	env, err := d.pack(entries)
	if err != nil {
		return "", err
	}
	if _, err := checkPublishable(env, []ed25519.PublicKey{d.pub}); err != nil {
		return "", err
	}
	rev, err := kvspec.Put(ctx, d.js, defaultBucket, defaultKey, env, kvspec.BucketConfig{})
	if err != nil {
		return "", err
	}
	o, err := d.seen.wait(ctx, rev)
	if err != nil {
		return "", err
	}
	if o.Report.Err != nil {
		return "", fmt.Errorf("the agent refused revision %d: %w", rev, o.Report.Err)
	}
	for _, r := range o.Report.Results {
		if r.Failed() {
			return "", fmt.Errorf("%s %s failed: %s", r.Action, r.Name, r.Reason)
		}
	}
	if s := stagingLeft(d.dir); len(s) > 0 {
		return "", fmt.Errorf("staging left behind: %v", s)
	}
	what, err := check(d.dir, o.Report)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("revision %d, version %d: %s", rev, o.Report.Version, what), nil
}

// pack signs a v2 specification of entries with a version above the last one published.
func (d *demoRun) pack(entries []spec.Entry) ([]byte, error) {
	list, err := jsonEntries(entries)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	d.version = max(d.version+1, spec.VersionAt(now))
	env, _, err := spec.Pack(list, spec.PackOptions{Format: 2, Version: d.version, Issued: now, Key: d.priv})
	return env, err
}

// demoMarker is the file the demo leaves in a machines directory it took while it was empty,
// so that a later demo may use it again and no demo uses any other.
const demoMarker = ".mms-demo"

// claimDemoDir checks that dir is one the demo may deploy into, purging what it does not list:
// empty (it is then marked as the demo's), or marked by an earlier demo. A directory that holds
// anything else (machines, an agent's record) is refused: the demo would purge its machines
// and record its own version, after which the operator's specification is refused as a rollback.
func claimDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by mms demo; delete the directory when done\n"), 0o644)
	}
	if _, err := os.Lstat(filepath.Join(dir, demoMarker)); err == nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return fmt.Errorf("%s holds what the demo did not create (%s): give --dir a new or empty directory", dir, strings.Join(names, ", "))
}

// stagingLeft lists the staging directories in dir.
func stagingLeft(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ".mms-stage-*"))
	return m
}

// errNoOutcome means the agent did not reconcile a revision in time.
var errNoOutcome = errors.New("the agent did not reconcile it in time")
