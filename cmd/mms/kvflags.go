package main

import (
	"context"
	"fmt"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/kvspec"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Where the specification lives in NATS, unless told otherwise.
const (
	// defaultBucket is the Key-Value bucket holding the specification.
	defaultBucket = "MACHINES"
	// defaultKey is the key of the specification in the bucket.
	defaultKey = "machines"
	// defaultServer is the server mms put and mms get talk to when neither --server nor
	// $NATS_URL says otherwise: the address `mms agent` gives its embedded server.
	defaultServer = "nats://127.0.0.1:4222"
	// connectTimeout bounds connecting for a one-shot command (put, get).
	connectTimeout = 10 * time.Second
	// requestTimeout bounds one request of a one-shot command.
	requestTimeout = 10 * time.Second
)

// kvFlags are the flags that say where the specification lives: one definition shared by
// agent, put and get, so that they mean the same everywhere.
type kvFlags struct {
	server  string
	creds   string
	tlsCert string
	tlsKey  string
	tlsCA   string
	bucket  string
	key     string
	// dir, for put and get, is the machines directory of a local mms agent whose embedded
	// server (and its credentials) to use.
	dir string
	// user and password are the embedded server's credentials, from dir or the agent itself.
	user, password string
	// natsContext and choriaConfig, for put and get, name a NATS CLI context or a Choria
	// client configuration to connect with (registerProfiles).
	natsContext, choriaConfig string
	// inboxPrefix, for mms agent, replaces _INBOX as the prefix of the connection's inboxes,
	// so that a node's permissions can name its own inboxes only.
	inboxPrefix string
}

// register adds the connection flags (registerConnection) and where the specification lives.
func (k *kvFlags) register(cmd *fisk.CmdClause, serverHelp string) {
	k.registerConnection(cmd, serverHelp)
	cmd.Flag("bucket", "The Key-Value bucket holding the specification").Default(defaultBucket).StringVar(&k.bucket)
	cmd.Flag("key", "The key of the specification in the bucket").Default(defaultKey).StringVar(&k.key)
}

// registerConnection adds the flags that say how to reach the NATS server, for the commands
// that talk to it about something other than the specification (mms archive --publish).
func (k *kvFlags) registerConnection(cmd *fisk.CmdClause, serverHelp string) {
	cmd.Flag("server", serverHelp).Envar("NATS_URL").PlaceHolder("URL").StringVar(&k.server)
	cmd.Flag("creds", "A NATS credentials file").PlaceHolder("FILE").ExistingFileVar(&k.creds)
	cmd.Flag("tlscert", "A TLS client certificate, for servers that want one (a Choria broker)").PlaceHolder("FILE").ExistingFileVar(&k.tlsCert)
	cmd.Flag("tlskey", "The private key of --tlscert").PlaceHolder("FILE").ExistingFileVar(&k.tlsKey)
	cmd.Flag("tlsca", "The CA that signed the server's certificate").PlaceHolder("FILE").ExistingFileVar(&k.tlsCA)
}

// registerDir adds --dir, for the commands that may reach a local mms agent's embedded server.
func (k *kvFlags) registerDir(cmd *fisk.CmdClause) {
	cmd.Flag("dir", "The machines directory of a local mms agent: use its embedded server with the credentials it keeps there").PlaceHolder("DIR").ExistingDirVar(&k.dir)
}

// serverURL is --server, $NATS_URL, the embedded server of the agent of --dir, or the default
// server. With --dir it also takes that server's credentials.
func (k *kvFlags) serverURL() (string, error) {
	if err := k.checkProfiles(); err != nil {
		return "", err
	}
	switch {
	case k.choriaConfig != "":
		return "the Choria brokers of " + k.choriaConfig, nil
	case k.natsContext != "":
		url, _, err := k.contextOptions()
		return url, err
	}
	if k.dir != "" {
		c, err := readCreds(k.dir)
		if err != nil {
			return "", usageError("--dir %s: %v (is mms agent running there with its embedded server?)", k.dir, err)
		}
		k.user, k.password = c.User, c.Password
		if k.server == "" {
			return c.URL, nil
		}
	}
	if k.server == "" {
		return defaultServer, nil
	}
	return k.server, nil
}

// connect connects to url and returns JetStream on that connection; opts add to kvspec's
// options for a long-running node.
// dial connects to the server the flags name, returning its URL (for hints) with the
// connection; the caller closes nc.
func (k *kvFlags) dial(ctx context.Context, opts ...nats.Option) (url string, nc *nats.Conn, js jetstream.JetStream, err error) {
	if url, err = k.serverURL(); err != nil {
		return "", nil, nil, err
	}
	nc, js, err = k.connect(ctx, url, opts...)
	return url, nc, js, err
}

func (k *kvFlags) connect(ctx context.Context, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	if (k.tlsCert == "") != (k.tlsKey == "") {
		return nil, nil, usageError("--tlscert and --tlskey go together")
	}
	if k.tlsCert != "" {
		opts = append(opts, nats.ClientCert(k.tlsCert, k.tlsKey))
	}
	if k.tlsCA != "" {
		opts = append(opts, nats.RootCAs(k.tlsCA))
	}
	if k.user != "" {
		opts = append(opts, nats.UserInfo(k.user, k.password))
	}
	if k.inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(k.inboxPrefix))
	}
	if k.natsContext != "" {
		_, more, err := k.contextOptions()
		if err != nil {
			return nil, nil, err
		}
		opts = append(more, opts...)
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var nc *nats.Conn
	var err error
	if k.choriaConfig != "" {
		nc, err = k.connectChoria(cctx)
	} else {
		nc, err = kvspec.Connect(cctx, url, k.creds, opts...)
	}
	if err != nil {
		return nil, nil, k.natsHint(err, url)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream on %s: %w", kvspec.RedactURLs(url), err)
	}
	return nc, js, nil
}

// published reads the specification published at the bucket and key, saying what to check
// when that fails; where names it, with its revision and when it was stored, for messages.
func (k *kvFlags) published(ctx context.Context, js jetstream.JetStream, url string) (e kvspec.Entry, where string, err error) {
	e, err = kvspec.Get(ctx, js, k.bucket, k.key)
	if err != nil {
		return kvspec.Entry{}, "", k.natsHint(err, url)
	}
	return e, fmt.Sprintf("%s/%s revision %d (stored %s)", k.bucket, k.key, e.Revision, e.Created.UTC().Format(time.RFC3339)), nil
}

// bucketFlags say how a command that creates the specification bucket (mms put, mms keyring
// put) creates it, when it is missing.
type bucketFlags struct {
	history, replicas int
}

func (b *bucketFlags) register(cmd *fisk.CmdClause) {
	cmd.Flag("history", "Revisions kept per key when the bucket is created").Default(fmt.Sprint(kvspec.DefaultHistory)).IntVar(&b.history)
	cmd.Flag("replicas", "Servers holding the bucket when it is created (3 in a production cluster)").Default(fmt.Sprint(kvspec.DefaultReplicas)).IntVar(&b.replicas)
}

// config is the configuration of the specification bucket the flags ask for.
func (b *bucketFlags) config() kvspec.BucketConfig {
	return kvspec.BucketConfig{History: b.history, Replicas: b.replicas, Description: "mms machines specifications"}
}

// localServerHelp is the --server help of the commands that talk to the bucket the nodes
// watch, whose default is a local mms agent's embedded server.
const localServerHelp = "The NATS server URL (default: " + defaultServer + ", where mms agent's embedded server listens; give --dir for its credentials)"
