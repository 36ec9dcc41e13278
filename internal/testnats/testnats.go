// Package testnats starts the real NATS server (embedded, with JetStream) that tests run
// against, and connects to it. Only tests import it.
package testnats

import (
	"context"
	"testing"
	"time"

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
