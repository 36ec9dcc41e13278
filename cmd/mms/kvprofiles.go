package main

import (
	"github.com/choria-io/fisk"
	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
)

// registerProfiles adds --context and --choria-config, for the operator's commands (put,
// get): the server, credentials and TLS come from a configuration the operator already has,
// so that they do not repeat them.
func (k *kvFlags) registerProfiles(cmd *fisk.CmdClause) {
	cmd.Flag("context", "A NATS CLI context (see nats context ls) giving the server, credentials and TLS").PlaceHolder("NAME").StringVar(&k.natsContext)
	cmd.Flag("choria-config", "A Choria client configuration (e.g. /etc/choria/client.conf) giving the brokers and the security to reach them").PlaceHolder("FILE").ExistingFileVar(&k.choriaConfig)
}

// checkProfiles refuses flags that say the same thing twice.
func (k *kvFlags) checkProfiles() error {
	switch {
	case k.natsContext != "" && k.choriaConfig != "":
		return usageError("--context and --choria-config each say how to connect: give one")
	case (k.natsContext != "" || k.choriaConfig != "") && k.dir != "":
		return usageError("--dir reaches a local mms agent's embedded server; --context and --choria-config another: give one")
	case k.choriaConfig != "" && (k.server != "" || k.creds != "" || k.tlsCert != "" || k.tlsKey != "" || k.tlsCA != ""):
		return usageError("--choria-config gives the brokers and their security: leave out --server, --creds and the TLS flags (or $NATS_URL)")
	}
	return nil
}

// contextOptions loads the NATS context named by --context: its server URL (unless --server
// says another) and its connection options.
func (k *kvFlags) contextOptions() (string, []nats.Option, error) {
	nctx, err := natscontext.New(k.natsContext, true)
	if err != nil {
		return "", nil, usageError("--context %s: %v", k.natsContext, err)
	}
	opts, err := nctx.NATSOptions()
	if err != nil {
		return "", nil, usageError("--context %s: %v", k.natsContext, err)
	}
	url := k.server
	if url == "" {
		url = nctx.ServerURL()
	}
	if url == "" {
		return "", nil, usageError("--context %s names no server", k.natsContext)
	}
	return url, opts, nil
}
