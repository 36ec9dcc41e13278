package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mms-io/mms/internal/backoff"
	"github.com/nats-io/nats.go"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go/jetstream"
)

// defaultEmbeddedPort is the port of the embedded NATS server mms agent starts when given no
// server: the standard NATS port, so that mms put and mms get find it without flags.
const defaultEmbeddedPort = 4222

// natsStoreDir is where the embedded server keeps JetStream's files, as help and messages
// name it.
var natsStoreDir = filepath.Join(install.StateDirName, install.NATSStoreName)

func init() { registerCommand(configureAgent) }

type agentCommand struct {
	node   nodeFlags
	kv     kvFlags
	port   int
	status statusFlags
}

func configureAgent(app *fisk.Application) {
	c := &agentCommand{}
	cmd := app.Command("agent", "Keeps a machines directory reconciled with the specification in NATS Key-Value").Action(action(c.run))
	c.node.register(cmd, nodeloop.ScopeLoop)
	c.kv.register(cmd, "The NATS server URL (default: an embedded server on 127.0.0.1 storing its data under DIR/"+natsStoreDir+")")
	cmd.Flag("embedded-port", "The port of the embedded NATS server when no --server is given (0 picks a free one)").Default(fmt.Sprint(defaultEmbeddedPort)).IntVar(&c.port)
	c.status.register(cmd)
	cmd.Flag("inbox-prefix", "The prefix of this node's NATS inboxes instead of _INBOX (e.g. _INBOX_web1), so that its permissions can allow its own inboxes only").PlaceHolder("PREFIX").StringVar(&c.kv.inboxPrefix)
}

func (c *agentCommand) run() error {
	if err := c.status.check(); err != nil {
		return err
	}
	cfg, err := c.node.config()
	if err != nil {
		return err
	}
	settings := c.node.settings
	log := cfg.Logger
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The agent holds its machines directory for its whole life, from before its embedded
	// server starts (whose files live under it): a second agent, mms apply or mms demo on the
	// directory is refused with who holds it, and two servers never share one store.
	st, err := install.Open(cfg.Dir)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("could not write the record of what mms manages", "dir", cfg.Dir, "error", err)
		}
	}()

	url, embedded := c.kv.server, c.kv.server == ""
	c.sayWhoIAm(cfg, log)
	if embedded {
		srvLog := c.node.loggerAt(os.Stderr, slog.LevelWarn)
		if c.node.verbose {
			srvLog = log
		}
		creds, err := agentCreds(cfg.Dir)
		if err != nil {
			return err
		}
		srv, err := startEmbedded(cfg.Dir, c.port, creds, srvLog)
		if err != nil {
			return err
		}
		defer srv.Shutdown()
		url = srv.ClientURL()
		creds.URL = url
		if err := writeCreds(cfg.Dir, creds); err != nil {
			return err
		}
		c.kv.user, c.kv.password = creds.User, creds.Password
		fmt.Printf("Embedded NATS server listening on %s, for clients with the credentials in %s (JetStream data in %s)\n",
			url, install.StatePathFor(cfg.Dir, install.CredentialsName), filepath.Join(cfg.Dir, natsStoreDir))
	}
	nc, js, err := c.connectRetrying(ctx, url, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if embedded {
		// The agent owns this server: create the buckets now, so that the watch starts at
		// once rather than after its first put, and the status has somewhere to go.
		if err := createBucket(ctx, js, c.kv.bucket); err != nil {
			return err
		}
		if c.status.bucket != "" {
			if err := fleet.EnsureBucket(ctx, js, fleet.BucketConfig(c.status.bucket, 1, 0)); err != nil {
				return err
			}
		}
	}
	// obj:// archives come over the agent's own connection.
	if a, _ := c.node.anchor(); !a.IsZero() {
		fetch := nodeloop.KeyringFetcher(func() (jetstream.JetStream, error) { return js, nil }, c.kv.bucket, c.kv.key)
		cfg.Keyring = nodeloop.NewKeeper(cfg.Dir, a, fetch, nodeloop.KeyringWhere(c.kv.bucket, c.kv.key), log)
	}
	if err := nodeloop.UseObjectStore(&cfg, js, ""); err != nil {
		return err
	}
	// Staged rollouts: the gate is over the same connection; health is the policy's command.
	staging := nodeloop.NewStaging(cfg, cfg.Node.Identity, nodeloop.CommandHealth(cfg.Dir), fleet.FreshFor(c.status.heartbeat), settings.RolloutPoll)
	staging.UseGate(ctx, js, "")
	observers := []nodeloop.Observer{nodeloop.LastReportObserver{Dir: cfg.Dir, Logger: log}}
	if c.status.bucket != "" {
		reporter := &fleet.Reporter{Identity: cfg.Node.Identity, Host: "mms agent", Version: moduleVersion(), Dir: cfg.Dir, Heartbeat: c.status.heartbeat,
			Rollout: staging.Status}
		pub := fleet.NewPublisher(c.status.bucket, reporter, log)
		staging.OnChange = pub.Changed
		go pub.Run(ctx, js)
		observers = append(observers, pub)
	}
	loop := &nodeloop.Loop{
		Config:             cfg,
		Source:             nodeloop.NewKVSource(js, c.kv.bucket, c.kv.key, kvspec.WatchOptions{Interval: settings.Interval, Logger: log, Conn: nc}),
		Interval:           settings.Interval,
		FullVerifyInterval: settings.FullVerifyInterval,
		Observers:          observers,
		Staging:            staging,
		Store:              st,
	}
	loop.Run(ctx)
	return nil
}

// startEmbedded starts an embedded NATS server with JetStream on 127.0.0.1:port, its data
// under dir's mms state directory, accepting only creds, with JetStream's memory and store
// bounded; log receives the server's own lines.
func startEmbedded(dir string, port int, creds embeddedCreds, log *slog.Logger) (*embednats.Server, error) {
	store, err := install.StatePath(dir, install.NATSStoreName)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	if err := os.MkdirAll(store, 0o700); err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	srv, err := embednats.Start(embednats.Options{Port: port, StoreDir: store, Logger: log.With("component", "nats-server"), User: creds.User, Password: creds.Password})
	if err != nil {
		return nil, fmt.Errorf("%w (is port %d taken? pick another with --embedded-port, or give --server)", err, port)
	}
	return srv, nil
}

// createBucket creates bucket with kvspec's defaults unless it exists.
func createBucket(ctx context.Context, js jetstream.JetStream, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "mms machines specifications",
		History:     kvspec.DefaultHistory,
		Replicas:    kvspec.DefaultReplicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// Waits between attempts to reach the NATS server at start.
const (
	connectMinBackoff = time.Second
	connectMaxBackoff = 30 * time.Second
)

// connectRetrying connects to url, retrying with backoff while it is not reachable (a node
// boots before its NATS server, a broker restarts), saying so, until ctx ends. A usage error
// (flags that do not go together) is not retried.
func (c *agentCommand) connectRetrying(ctx context.Context, url string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	for attempt := 0; ; attempt++ {
		nc, js, err := c.kv.connect(ctx, url, kvspec.LogEvents(log))
		var usage *exitError
		if err == nil || errors.As(err, &usage) {
			return nc, js, err
		}
		wait := backoff.Jittered(attempt, connectMinBackoff, connectMaxBackoff)
		log.Warn("cannot reach the NATS server yet; retrying", "server", kvspec.RedactURLs(url), "error", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("stopped before the NATS server %s was reachable: %w", kvspec.RedactURLs(url), err)
		case <-t.C:
		}
	}
}

// sayWhoIAm logs, once at start, what decides what this node does: its identity and facts,
// the keys it trusts, its directory, where it reads the specification and whether it purges.
// It is the first answer to "why does this node do nothing?".
func (c *agentCommand) sayWhoIAm(cfg machines.Config, log *slog.Logger) {
	keys := make([]string, len(cfg.Trust.Keys))
	for i, k := range cfg.Trust.Keys {
		keys[i] = hex.EncodeToString(k)
	}
	node := describeNode(cfg.Node, c.node.identity, c.node.facts)
	server := "embedded"
	if c.kv.server != "" {
		server = kvspec.RedactURLs(c.kv.server)
	}
	facts := node.FactsFile
	if facts == "" {
		facts = "none"
	}
	log.Info("mms agent starting", "version", versionText(), "identity", node.Identity, "identity_from", node.IdentityFrom,
		"facts", facts, "trusted_keys", strings.Join(keys, ","), "unsigned_allowed", cfg.Trust.InsecureAllowUnsigned,
		"dir", cfg.Dir, "server", server, "bucket", c.kv.bucket, "key", c.kv.key, "purge", cfg.Purge)
	if a, _ := c.node.anchor(); !a.IsZero() {
		log.Info("trusting a keyring", "where", nodeloop.KeyringWhere(c.kv.bucket, c.kv.key), "roots", len(a.Roots), "threshold", a.Threshold)
	}
}
