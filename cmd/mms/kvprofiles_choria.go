//go:build !mms_node

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/choria-io/go-choria/choria"
	"github.com/nats-io/nats.go"
	"github.com/sirupsen/logrus"
)

// connectChoria connects as the Choria client configuration --choria-config says (brokers,
// TLS, JWT), through go-choria's own connector.
func (k *kvFlags) connectChoria(ctx context.Context) (*nats.Conn, error) {
	fw, err := choria.New(k.choriaConfig)
	if err != nil {
		return nil, usageError("--choria-config %s: %v", k.choriaConfig, err)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	conn, err := fw.NewConnector(ctx, fw.MiddlewareServers, "mms", logrus.NewEntry(quiet))
	if err != nil {
		return nil, fmt.Errorf("connect to the Choria brokers of %s: %w", k.choriaConfig, err)
	}
	return conn.Nats(), nil
}
