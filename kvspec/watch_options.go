package kvspec

import (
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Watcher defaults.
const (
	// DefaultInterval is how often a Watcher reads the key even when the watch is healthy.
	DefaultInterval = time.Minute
	// DefaultMinBackoff is the first wait before re-creating a broken watch.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the wait between attempts to re-create a watch: short enough that
	// a node whose stream leader died is back within seconds of the election (a 30s cap left
	// nodes 16s behind in a 300-node failover), jittered so that a fleet does not retry at once.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultRequestTimeout bounds each request a Watcher makes (bucket lookup, Get, watch creation).
	DefaultRequestTimeout = 10 * time.Second
)

// WatchOptions tune a Watcher. The zero value gives the defaults.
type WatchOptions struct {
	// Interval is how often the key is read to catch what the watch missed; 0 means DefaultInterval.
	Interval time.Duration
	// MinBackoff is the first wait before re-creating a watch; 0 means DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts; 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// RequestTimeout bounds each request to the server; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives "watch re-created" and similar events; nil discards them.
	Logger *slog.Logger
	// Conn, when set, is the connection under the JetStream context: the watch is re-created
	// the moment it reconnects, instead of waiting for the next Interval (after a server
	// restart a nats.go watch has been seen to take 20 seconds to deliver again).
	Conn *nats.Conn
}

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
