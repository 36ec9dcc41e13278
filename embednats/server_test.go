package embednats

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func TestStart(t *testing.T) {
	t.Run("starts a JetStream server on a random loopback port", func(t *testing.T) {
		srv, err := Start(Options{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		if !srv.Running() {
			t.Fatal("server is not running after Start")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		kv, err := connectJS(t, srv.ClientURL()).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
		if err != nil {
			t.Fatalf("create bucket: %v", err)
		}
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("put: %v", err)
		}
	})

	t.Run("refuses a host that is not loopback", func(t *testing.T) {
		for _, h := range []string{"0.0.0.0", "::", "192.0.2.1", "example.com"} {
			srv, err := Start(Options{Host: h, StoreDir: t.TempDir()})
			if err == nil {
				srv.Shutdown()
				t.Fatalf("host %q was accepted", h)
			}
			if !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("host %q: want ErrNotLoopback, got %v", h, err)
			}
		}
	})

	t.Run("refuses to start without a store directory", func(t *testing.T) {
		if _, err := Start(Options{}); !errors.Is(err, ErrOptions) {
			t.Fatalf("want ErrOptions, got %v", err)
		}
	})

	t.Run("refuses a cluster route that is not loopback", func(t *testing.T) {
		_, err := Start(Options{StoreDir: t.TempDir(), Cluster: &ClusterOptions{Name: "c", Routes: []string{"nats://192.0.2.1:6222"}}})
		if !errors.Is(err, ErrNotLoopback) {
			t.Fatalf("want ErrNotLoopback, got %v", err)
		}
	})

	t.Run("fails with the reason when the port is taken", func(t *testing.T) {
		a, err := Start(Options{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Shutdown()
		b, err := Start(Options{StoreDir: t.TempDir(), Port: a.opts.Port})
		if err == nil {
			b.Shutdown()
			t.Fatalf("a second server started on %s", a.ClientURL())
		}
		if !errors.Is(err, ErrStart) {
			t.Fatalf("want ErrStart, got %v", err)
		}
	})

	t.Run("shuts down twice without harm", func(t *testing.T) {
		srv, err := Start(Options{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		srv.Shutdown()
		srv.Shutdown()
		if srv.Running() {
			t.Fatal("server still running after Shutdown")
		}
	})
}

func TestRestart(t *testing.T) {
	t.Run("comes back on the same port with its JetStream data", func(t *testing.T) {
		srv, err := Start(Options{StoreDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		url := srv.ClientURL()
		js := connectJS(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
		if err != nil {
			t.Fatal(err)
		}
		rev, err := kv.Put(ctx, "k", []byte("before"))
		if err != nil {
			t.Fatal(err)
		}

		if err := srv.Restart(); err != nil {
			t.Fatalf("restart: %v", err)
		}
		if srv.ClientURL() != url {
			t.Fatalf("URL changed across restart: %s then %s", url, srv.ClientURL())
		}
		// A fresh connection proves the port; the old one reconnects on its own.
		kv2, err := connectJS(t, url).KeyValue(ctx, "b")
		if err != nil {
			t.Fatalf("bucket after restart: %v", err)
		}
		e, err := kv2.Get(ctx, "k")
		if err != nil {
			t.Fatalf("get after restart: %v", err)
		}
		if string(e.Value()) != "before" || e.Revision() != rev {
			t.Fatalf("got %q rev %d, want %q rev %d", e.Value(), e.Revision(), "before", rev)
		}
	})
}

func TestAuthentication(t *testing.T) {
	const password = "a-password-only-this-test-knows"
	srv, err := Start(Options{StoreDir: t.TempDir(), User: "agent", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	t.Run("refuses a client without the credentials", func(t *testing.T) {
		if nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("connected without credentials")
		}
		if nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("agent", "wrong"), nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("connected with a wrong password")
		}
	})
	t.Run("accepts the credentials it was given", func(t *testing.T) {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("agent", password))
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
	})
	t.Run("refuses a user without a password", func(t *testing.T) {
		if _, err := Start(Options{StoreDir: t.TempDir(), User: "agent"}); !errors.Is(err, ErrOptions) {
			t.Fatalf("got %v", err)
		}
	})
}
