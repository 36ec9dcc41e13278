package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/choria-io/fisk"
	"github.com/google/renameio/v2"
	"github.com/mms-io/mms/demo"
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
	work    string // temporary directory: NATS data, machine sources, archives, key, specifications
	log     *slog.Logger
	ui      *stepPrinter
	srv     *embednats.Server
	creds   embeddedCreds // the server's, as mms agent keeps them in DIR/.mms
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     ed25519.PublicKey
	priv    ed25519.PrivateKey
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
	ours, err := demoDirOwned(c.dir)
	if err != nil {
		return usageError("demo: %v", err)
	}
	pubFile := demoPublicKeyFile(c.dir)
	if c.keep {
		// Before the directory is marked: a refused run must not make the next one accepted.
		if err := checkDemoPublicKeyFile(pubFile, ours); err != nil {
			return usageError("demo: %v", err)
		}
	}
	if !ours {
		if err := markDemoDir(c.dir); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
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
		// Stands for the operator's web server, where the archives are published.
	}
	defer d.close()

	fmt.Printf("mms demo: an agent keeps %s in line with a signed specification in NATS; loopback only.\n", c.dir)
	fmt.Printf("Each step shows the mms commands it stands for; their files are in %s until the demo ends.\n\n", work)
	started := time.Now()
	steps := d.steps(ctx)
	for i, s := range steps {
		if err := d.ui.run(ctx, i+1, len(steps), s); err != nil {
			fmt.Printf("\nThe demo failed at step %d: %v\n", i+1, err)
			return fmt.Errorf("demo: step %d (%s): %w", i+1, s.title, err)
		}
	}
	fmt.Printf("\nAll %d steps worked in %s. See what mms manages there with: mms status --dir %s\n", len(steps), readableDuration(time.Since(started)), shellWord(c.dir))
	if !c.keep {
		return nil
	}
	if err := renameio.WriteFile(pubFile, []byte(hex.EncodeToString(d.pub)+"\n"), 0o644); err != nil {
		return fmt.Errorf("demo: keep the public key: %w", err)
	}
	fmt.Print(d.keepMessage(pubFile))
	<-ctx.Done()
	return nil
}

// keepMessage tells the operator how to publish to the agent --keep keeps running.
func (d *demoRun) keepMessage(pubFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nThe agent keeps running until Ctrl-C, trusting the public key in %s (which stays).\n", pubFile)
	fmt.Fprintf(&b, "Its private key is %s, removed when the demo stops. To publish your own\n", d.keyFile())
	fmt.Fprintf(&b, "specification, with machines.json listing entries as mms archive prints them, run from here:\n\n")
	fmt.Fprintf(&b, "    %s > spec.json\n", commandLine("mms", "pack", "machines.json", d.keyFile()))
	fmt.Fprintf(&b, "    %s\n\n", commandLine("mms", "put", "spec.json", "--server", d.creds.URL, "--dir", d.dir,
		"--bucket", defaultBucket, "--key", defaultKey, "--public-key", pubFile))
	fmt.Fprintf(&b, "--dir gives mms put the credentials of the agent's NATS server; %s, for one, brings %s %s back.\n", d.machinesFile(1), demoMachine, demo.Versions[0])
	return b.String()
}

// demoPublicKeyFile is where --keep leaves the public key the kept agent trusts: beside the
// machines directory, named after it (mms-demo/machines.pub).
func demoPublicKeyFile(dir string) string { return filepath.Clean(dir) + ".pub" }

// checkDemoPublicKeyFile refuses to let --keep replace a file it may not have written: the
// demo replaces path only when an earlier demo had claimed the machines directory (ours) and
// path holds a public key.
func checkDemoPublicKeyFile(path string, ours bool) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ours || !fi.Mode().IsRegular() {
		return fmt.Errorf("--keep writes the public key to %s, which the demo did not write: move it, or give --dir another directory", path)
	}
	if _, err := spec.LoadPublicKey(path); err != nil {
		return fmt.Errorf("--keep writes the public key to %s, which holds something else (%v): move it, or give --dir another directory", path, err)
	}
	return nil
}

// close stops what the steps started.
func (d *demoRun) close() {
	if d.stopAgent != nil {
		d.stopAgent()
		<-d.agentDone
	}
	if d.nc != nil {
		d.nc.Close()
	}
	if d.srv != nil {
		d.srv.Shutdown()
	}
}

// Files of the demo in its temporary directory, which the commands each step shows name.
func (d *demoRun) keyPrefix() string         { return filepath.Join(d.work, "demo") }
func (d *demoRun) keyFile() string           { return d.keyPrefix() + ".key" }
func (d *demoRun) pubFile() string           { return d.keyPrefix() + ".pub" }
func (d *demoRun) sourceDir(v string) string { return filepath.Join(d.work, "source", v, demoMachine) }
func (d *demoRun) machinesFile(n int) string {
	return filepath.Join(d.work, fmt.Sprintf("machines-%d.json", n))
}
func (d *demoRun) specFile(n int) string {
	return filepath.Join(d.work, fmt.Sprintf("spec-%d.json", n))
}

// steps are the demo's steps; ctx is the whole demo's, which the agent runs under.
func (d *demoRun) steps(ctx context.Context) []step {
	v1, v2 := demoVersions()
	var archiveCmds []string
	for _, v := range demo.Versions {
		archiveCmds = append(archiveCmds, commandLine("mms", "archive", d.sourceDir(v), "--publish", demoArchiveBucket, "--dir", d.dir))
	}
	return []step{
		{
			title: "Create a fresh ed25519 signing key",
			cmds:  []string{commandLine("mms", "keys", "--out", d.keyPrefix())},
			do:    d.makeKey,
		},
		{
			title: "Start the agent on " + d.dir + ", with its embedded NATS server (JetStream) on loopback",
			cmds: []string{commandLine("mms", "agent", "--dir", d.dir, "--public-key", d.pubFile(), "--identity", demoIdentity,
				"--purge", "--splay", "0", "--embedded-port", "0")},
			do: func(sctx context.Context) (string, error) { return d.startAgent(ctx, sctx) },
		},
		{
			title: fmt.Sprintf("Build the example machine %q %s and %s into archives, published to the NATS Object Store", demoMachine, v1, v2),
			cmds:  archiveCmds,
			do:    d.buildArchives,
		},
		d.publishStep(1, fmt.Sprintf("Publish a signed specification with %s %s: the agent installs it", demoMachine, v1), []string{v1}, installed(v1)),
		d.publishStep(2, fmt.Sprintf("Publish %s %s: the agent updates it in place, atomically", demoMachine, v2), []string{v2}, updated(v2)),
		d.publishStep(3, fmt.Sprintf("Publish a specification without %s: the agent purges it", demoMachine), nil, purged()),
	}
}

// publishStep is the n-th publish: pack the machines file into a specification, put it.
func (d *demoRun) publishStep(n int, title string, versions []string, check func(string, *machines.Report) (string, error)) step {
	return step{
		title: title,
		cmds: []string{
			commandLine("mms", "pack", d.machinesFile(n), d.keyFile()) + " > " + shellWord(d.specFile(n)),
			commandLine("mms", "put", d.specFile(n), "--dir", d.dir, "--public-key", d.pubFile()),
		},
		do: func(sctx context.Context) (string, error) { return d.publishAndWait(sctx, n, versions, check) },
	}
}

// makeKey does what mms keys --out does: PREFIX.key (0600) and PREFIX.pub.
func (d *demoRun) makeKey(context.Context) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	d.pub, d.priv = pub, priv
	if err := writeNewFile(d.keyFile(), []byte(hex.EncodeToString(priv)+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := writeNewFile(d.pubFile(), []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("public key %s… in %s, private key in %s", hex.EncodeToString(pub)[:16], filepath.Base(d.pubFile()), filepath.Base(d.keyFile())), nil
}

// startAgent does what mms agent does without --server: an embedded NATS server on loopback
// that only its credentials (kept in DIR/.mms, where mms put --dir finds them) reach, its
// bucket, and the agent loop, which runs until ctx (the demo's) is done. sctx bounds the start.
func (d *demoRun) startAgent(ctx, sctx context.Context) (string, error) {
	creds, err := agentCreds(d.dir)
	if err != nil {
		return "", err
	}
	srv, err := embednats.Start(embednats.Options{StoreDir: filepath.Join(d.work, "nats"), User: creds.User, Password: creds.Password})
	if err != nil {
		return "", err
	}
	d.srv = srv
	creds.URL = srv.ClientURL()
	if err := writeCreds(d.dir, creds); err != nil {
		return "", err
	}
	d.creds = creds
	cctx, cancel := context.WithTimeout(sctx, connectTimeout)
	defer cancel()
	// The demo's own connection, which publishes as mms put does.
	if d.nc, err = kvspec.Connect(cctx, srv.ClientURL(), "", nats.UserInfo(creds.User, creds.Password)); err != nil {
		return "", err
	}
	if d.js, err = jetstream.New(d.nc); err != nil {
		return "", err
	}
	if err := createBucket(cctx, d.js, defaultBucket); err != nil {
		return "", err
	}

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
	opts := []nats.Option{nats.UserInfo(creds.User, creds.Password)}
	if d.log.Enabled(ctx, slog.LevelInfo) {
		opts = append(opts, kvspec.LogEvents(d.log))
	}
	nc, err := kvspec.Connect(cctx, srv.ClientURL(), "", opts...)
	if err != nil {
		return "", err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return "", err
	}
	nodeloop.DefaultSettings().Apply(&cfg)
	cfg.Purge, cfg.Splay = true, 0
	if err := nodeloop.UseObjectStore(&cfg, js, ""); err != nil {
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
	return fmt.Sprintf("NATS %s, bucket %s, credentials in %s; identity %s, purge on, re-verifies every %s",
		srv.ClientURL(), defaultBucket, install.StatePathFor(d.dir, install.CredentialsName), demoIdentity, readableDuration(nodeloop.DefaultInterval)), nil
}

// publishAndWait does what the n-th publish's mms pack and mms put do, with a specification
// holding the given versions of the example machine, then waits for the agent's reconcile of
// it and checks the outcome with check.
func (d *demoRun) publishAndWait(ctx context.Context, n int, versions []string, check func(dir string, rep *machines.Report) (string, error)) (string, error) {
	var entries []spec.Entry
	for _, v := range versions {
		entries = append(entries, d.entries[v])
	}
	list, err := jsonEntries(entries)
	if err != nil {
		return "", err
	}
	if err := writeNewFile(d.machinesFile(n), append(list, '\n'), 0o644); err != nil {
		return "", err
	}
	env, err := d.pack(list)
	if err != nil {
		return "", err
	}
	if err := writeNewFile(d.specFile(n), append(env, '\n'), 0o644); err != nil {
		return "", err
	}
	keys := []ed25519.PublicKey{d.pub}
	s, err := checkPublishable(env, keys)
	if err != nil {
		return "", err
	}
	if err := checkSpecSize(len(env)); err != nil {
		return "", err
	}
	if err := checkVersionGrows(ctx, kvFlags{bucket: defaultBucket, key: defaultKey}, d.js, s, keys); err != nil {
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
	return fmt.Sprintf("revision %d, version %s: %s", rev, readableVersion(o.Report.Version), what), nil
}

// pack signs a v2 specification of the machines file list, as mms pack does, with its
// default version (now in Unix milliseconds) unless that does not grow past the last one.
func (d *demoRun) pack(list []byte) ([]byte, error) {
	now := time.Now()
	d.version = max(d.version+1, spec.VersionAt(now))
	env, _, err := spec.Pack(list, spec.PackOptions{Format: 2, Version: d.version, Issued: now, Key: d.priv})
	return env, err
}

// demoMarker is the file the demo leaves in a machines directory it took while it was empty,
// so that a later demo may use it again and no demo uses any other.
const demoMarker = ".mms-demo"

// demoDirOwned checks that dir is one the demo may deploy into, purging what it does not
// list: empty (then not yet ours: markDemoDir marks it as the demo's), or marked by an
// earlier demo (ours). A directory that holds anything else (machines, an agent's record) is
// refused: the demo would purge its machines and record its own version, after which the
// operator's specification is refused as a rollback.
func demoDirOwned(dir string) (ours bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		return false, nil
	}
	if _, err := os.Lstat(filepath.Join(dir, demoMarker)); err == nil {
		return true, nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return false, fmt.Errorf("%s holds what the demo did not create (%s): give --dir a new or empty directory", dir, strings.Join(names, ", "))
}

// markDemoDir marks the empty directory dir as the demo's, for later demos to use again.
func markDemoDir(dir string) error {
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by mms demo; delete the directory when done\n"), 0o644)
}

// stagingLeft lists the staging directories in dir.
func stagingLeft(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ".mms-stage-*"))
	return m
}

// errNoOutcome means the agent did not reconcile a revision in time.
var errNoOutcome = errors.New("the agent did not reconcile it in time")
