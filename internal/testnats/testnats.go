// Package testnats starts the real NATS server (embedded, with JetStream) that tests run
// against, and connects to it. Only tests import it.
package testnats

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/kvspec"
)

// timeout bounds connecting and each request of these helpers.
const timeout = 20 * time.Second

// Start starts an embedded server with JetStream, its store in a temporary directory of t, and
// shuts it down when t ends.
func Start(t testing.TB) *embednats.Server {
	t.Helper()
	srv, err := embednats.Start(embednats.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// StartWith starts a server configured by opts (users, permissions, TLS, operator mode: what
// embednats does not offer) on a random loopback port, and shuts it down when t ends.
func StartWith(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(timeout) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect connects to url as mms does (kvspec.Connect) and closes the connection when t ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := kvspec.Connect(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
