package embednats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultHost is the address an embedded server binds to when Options.Host is empty.
const DefaultHost = "127.0.0.1"

// DefaultName is the server name used when Options.Name is empty.
const DefaultName = "mms-embedded"

// readyTimeout bounds how long Start waits for the server to accept connections.
const readyTimeout = 10 * time.Second

// ErrNotLoopback means a host that is not a loopback address was asked for.
var ErrNotLoopback = errors.New("embedded NATS binds to loopback only")

// ErrOptions means the options cannot start a server (for example no StoreDir).
var ErrOptions = errors.New("invalid embedded NATS options")

// Options configure one embedded server.
type Options struct {
	// Host is the loopback address to listen on; empty means DefaultHost (127.0.0.1).
	// Start refuses any host that is not loopback.
	Host string
	// Port is the client port; 0 picks a free port. Restart keeps the port picked first.
	Port int
	// StoreDir holds JetStream's files; required, and kept across Restart.
	StoreDir string
	// Name is the server name; empty means DefaultName. Cluster members need distinct names.
	Name string
	// Cluster, when not nil, makes this server a member of a cluster; nil means standalone.
	Cluster *ClusterOptions
	// Logger, when not nil, receives the server's notices, warnings and errors.
	Logger *slog.Logger
	// User and Password, when set, are the only credentials the server accepts: a client
	// without them is refused. Empty means an open server (tests and simulators).
	User, Password string
	// MaxMemory and MaxStore bound what JetStream may hold in memory and on disk, in bytes;
	// 0 means DefaultMaxMemory and DefaultMaxStore.
	MaxMemory, MaxStore int64
}

// JetStream's bounds when Options leave them out: far above what a few specifications and
// statuses take, far below what fills a node's disk.
const (
	DefaultMaxMemory int64 = 64 << 20  // 64 MiB
	DefaultMaxStore  int64 = 256 << 20 // 256 MiB
)

// ClusterOptions configure the route listener of a cluster member.
type ClusterOptions struct {
	// Name is the cluster name, the same on every member.
	Name string
	// Port is the route port; 0 picks a free port. Restart keeps the port picked first.
	Port int
	// Routes are the route URLs of the members (nats://127.0.0.1:port), this one's may be included.
	Routes []string
}

// normalize fills defaults and checks the options, returning a copy.
func (o Options) normalize() (Options, error) {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if err := checkLoopback(o.Host); err != nil {
		return o, err
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("%w: port %d out of range", ErrOptions, o.Port)
	}
	if o.StoreDir == "" {
		return o, fmt.Errorf("%w: StoreDir is required for JetStream", ErrOptions)
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if (o.User == "") != (o.Password == "") {
		return o, fmt.Errorf("%w: User and Password go together", ErrOptions)
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.MaxStore <= 0 {
		o.MaxStore = DefaultMaxStore
	}
	if o.Cluster != nil {
		c := *o.Cluster
		c.Routes = append([]string(nil), c.Routes...)
		if c.Name == "" {
			return o, fmt.Errorf("%w: a cluster needs a name", ErrOptions)
		}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Hostname() == "" {
				return o, fmt.Errorf("%w: route %q is not a URL", ErrOptions, r)
			}
			if err := checkLoopback(u.Hostname()); err != nil {
				return o, err
			}
		}
		o.Cluster = &c
	}
	return o, nil
}

// checkLoopback refuses a host that is not localhost or a loopback IP address.
func checkLoopback(host string) error {
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: host %q", ErrNotLoopback, host)
	}
	return nil
}
