package kvspec

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestConnect(t *testing.T) {
	t.Run("never puts a password or token in its error", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		for _, u := range []string{"nats://alice:s3cret@" + addr, "nats://s3cret@" + addr, "nats://" + addr + ",nats://bob:s3cret@" + addr} {
			_, err := Connect(testCtx(t, waitFor), u, "")
			if err == nil {
				t.Fatalf("%s: connected to nothing", u)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error shows the secret: %v", err)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Fatalf("error does not name the server: %v", err)
			}
		}
	})

	t.Run("gives up when the context ends", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { // accept and say nothing, like a hung server
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := Connect(ctx, "nats://"+l.Addr().String(), "", nats.Timeout(time.Hour))
			done <- err
		}()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
		case <-time.After(waitFor):
			t.Fatal("Connect ignored the cancelled context")
		}
	})

	t.Run("names the connection and logs a disconnect and the reconnect", func(t *testing.T) {
		srv := startServer(t)
		records := make(chan string, 16)
		log := slog.New(chanHandler(records))
		nc, err := Connect(testCtx(t, waitFor), srv.ClientURL(), "", LogEvents(log),
			nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if nc.Opts.Name != DefaultConnectionName || nc.Opts.MaxReconnect != -1 {
			t.Fatalf("name %q, max reconnects %d", nc.Opts.Name, nc.Opts.MaxReconnect)
		}
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"NATS disconnected", "NATS reconnected"} {
			select {
			case got := <-records:
				if got != want {
					t.Fatalf("logged %q, want %q", got, want)
				}
			case <-time.After(waitFor):
				t.Fatalf("%q not logged", want)
			}
		}
	})
}

// chanHandler is a slog.Handler that sends each record's message to a channel.
type chanHandler chan<- string

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	h <- r.Message
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }
