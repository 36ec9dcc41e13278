package kvspec

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Connection defaults for a long-running node.
const (
	// DefaultConnectionName names the connection on the server (see `nats server report connections`).
	DefaultConnectionName = "mms"
	// reconnectWait is the base wait between reconnect attempts.
	reconnectWait = 2 * time.Second
	// reconnectJitter is the random extra wait added to reconnectWait (TLS connections included),
	// so that a fleet does not reconnect in lock step after a server restart.
	reconnectJitter = 2 * time.Second
	// pingInterval and maxPingsOut notice a dead TCP connection within about a minute.
	pingInterval = 20 * time.Second
	maxPingsOut  = 3
)

// Connect connects to url (one URL or a comma-separated list) with options fit for a
// long-running node: reconnect forever with a jittered wait, a connection name, and pings that
// notice a dead connection. creds, when not empty, is a NATS credentials file. opts are applied
// after the defaults and so override them; add LogEvents to log disconnects and reconnects.
// Connect returns early with ctx's error when ctx is done first.
func Connect(ctx context.Context, url, creds string, opts ...nats.Option) (*nats.Conn, error) {
	all := []nats.Option{
		nats.Name(DefaultConnectionName),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitter),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
	}
	if dl, ok := ctx.Deadline(); ok {
		all = append(all, nats.Timeout(time.Until(dl)))
	}
	if creds != "" {
		all = append(all, nats.UserCredentials(creds))
	}
	all = append(all, opts...)

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, all...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURLs(url), r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() { // close the connection should it arrive late
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to NATS at %s: %w", RedactURLs(url), ctx.Err())
	}
}

// LogEvents returns a nats.Option that logs disconnects, reconnects, closes and asynchronous
// errors to log. A nil log discards them.
func LogEvents(log *slog.Logger) nats.Option {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(o *nats.Options) error {
		o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
			if err == nil {
				return // a clean close, which ClosedCB reports
			}
			log.Warn("NATS disconnected", "error", err)
		}
		o.ReconnectedCB = func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", RedactURLs(nc.ConnectedUrl()))
		}
		o.ClosedCB = func(nc *nats.Conn) {
			log.Info("NATS connection closed")
		}
		o.AsyncErrorCB = func(nc *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS asynchronous error", "subject", subject, "error", err)
		}
		return nil
	}
}

// RedactURLs hides passwords (and a user or token given alone) in a comma-separated list of
// URLs, for errors and logs.
func RedactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil && strings.Contains(p, "@"):
			parts[i] = "<unparsable URL>"
		case err != nil:
			parts[i] = p
		default:
			if _, has := u.User.Password(); !has && u.User != nil {
				// A token or user alone is a secret too.
				u.User = url.User("xxxxx")
			}
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
