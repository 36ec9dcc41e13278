package embednats

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStart means the embedded server did not come up.
var ErrStart = errors.New("embedded NATS did not start")

// Server is one running embedded NATS server with JetStream. Its methods are safe for
// concurrent use.
type Server struct {
	mu   sync.Mutex
	opts Options // ports resolved after the first start, so Restart reuses them
	ns   *server.Server
}

// Start starts a server and returns once it accepts client connections (and, for a cluster
// member, route connections). The caller must Shutdown it.
func Start(opts Options) (*Server, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, fmt.Errorf("embednats: start: %w", err)
	}
	s := &Server{opts: o}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs a new nats-server with s.opts and records the ports it picked. s.mu held or unshared.
func (s *Server) start() error {
	o := s.opts
	so := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,

		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		Username:           o.User,
		Password:           o.Password,
	}
	if so.Port == 0 {
		so.Port = server.RANDOM_PORT
	}
	if c := o.Cluster; c != nil {
		so.Cluster = server.ClusterOpts{Name: c.Name, Host: o.Host, Port: c.Port}
		if so.Cluster.Port == 0 {
			so.Cluster.Port = server.RANDOM_PORT
		}
		for _, r := range c.Routes {
			u, _ := url.Parse(r) // checked by normalize
			so.Routes = append(so.Routes, u)
		}
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return fmt.Errorf("embednats: start %s: %w: %w", o.Name, ErrStart, err)
	}
	lg := &serverLog{log: o.Logger}
	ns.SetLoggerV2(lg, false, false, false)
	ns.Start() // returns once listeners are started or a fatal error was logged
	if msg := lg.lastFatal(); msg != "" || !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		if msg == "" {
			msg = "JetStream is not enabled"
		}
		return fmt.Errorf("embednats: start %s: %w: %s", o.Name, ErrStart, msg)
	}
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return fmt.Errorf("embednats: start %s: %w: not ready for connections after %s", o.Name, ErrStart, readyTimeout)
	}
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		s.opts.Port = a.Port
	}
	if o.Cluster != nil {
		if a := ns.ClusterAddr(); a != nil {
			s.opts.Cluster.Port = a.Port
		}
	}
	s.ns = ns
	return nil
}

// ClientURL returns the URL clients connect to, such as nats://127.0.0.1:4222.
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://%s:%d", hostForURL(s.opts.Host), s.opts.Port)
}

// RouteURL returns the URL other cluster members route to, or "" when standalone.
func (s *Server) RouteURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Cluster == nil {
		return ""
	}
	return fmt.Sprintf("nats://%s:%d", hostForURL(s.opts.Host), s.opts.Cluster.Port)
}

// Name returns the server name.
func (s *Server) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Name
}

// Running reports whether the server is up (not shut down).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns != nil && s.ns.Running()
}

// NATS returns the underlying nats-server, for inspection in tests (nil after Shutdown).
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns
}

// Shutdown stops the server and waits until it has stopped. It is safe to call twice.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown()
}

func (s *Server) shutdown() {
	if s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.ns = nil
}

// Restart stops the server (if running) and starts it again on the same ports with the same
// store directory, so that connected clients reconnect and JetStream data survives.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown()
	return s.start()
}

// hostForURL brackets an IPv6 literal.
func hostForURL(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}
