package embednats

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// ClusterName is the name StartCluster gives its cluster.
const ClusterName = "mms-cluster"

// metaLeaderTimeout bounds how long StartCluster waits for JetStream to elect a meta leader
// and for every member to join it. A first election takes 4 to 9 seconds in nats-server 2.10.
const metaLeaderTimeout = 30 * time.Second

// clusterPoll is how often StartCluster looks for the meta leader while it waits.
const clusterPoll = 20 * time.Millisecond

// ErrCluster means a cluster could not be formed.
var ErrCluster = errors.New("embedded NATS cluster did not form")

// Cluster is a set of embedded servers routed to each other with clustered JetStream.
type Cluster struct {
	// Servers are the members, in the order they were started; a stopped member stays here.
	Servers []*Server
}

// StartCluster starts n servers (n >= 2) on loopback, each with its store under baseDir, routed
// to each other, and returns once JetStream has a meta leader that knows every member.
func StartCluster(n int, baseDir string) (*Cluster, error) {
	return StartClusterWithLogger(n, baseDir, nil)
}

// StartClusterWithLogger is StartCluster with the servers' logs sent to log (nil discards).
func StartClusterWithLogger(n int, baseDir string, log *slog.Logger) (*Cluster, error) {
	if n < 2 {
		return nil, fmt.Errorf("embednats: start cluster: %w: need at least 2 servers, got %d", ErrOptions, n)
	}
	// Every member must know all routes up front: nats-server sizes the JetStream meta group
	// from the configured routes, so route ports are picked before any server starts.
	ports, err := freePorts(n)
	if err != nil {
		return nil, fmt.Errorf("embednats: start cluster: %w: %w", ErrCluster, err)
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats://%s:%d", DefaultHost, p)
	}
	c := &Cluster{}
	for i := range n {
		s, err := Start(Options{
			Name:     fmt.Sprintf("mms-%d", i),
			StoreDir: filepath.Join(baseDir, fmt.Sprintf("mms-%d", i)),
			Cluster:  &ClusterOptions{Name: ClusterName, Port: ports[i], Routes: routes},
			Logger:   log,
		})
		if err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("embednats: start cluster member %d: %w", i, err)
		}
		c.Servers = append(c.Servers, s)
	}
	if err := c.WaitForMetaLeader(metaLeaderTimeout); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

// WaitForMetaLeader waits until one running member is the JetStream meta leader, it knows
// every running member as a peer, and every running member is current.
func (c *Cluster) WaitForMetaLeader(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(clusterPoll)
	defer tick.Stop()
	for {
		if c.metaReady() {
			return nil
		}
		select {
		case <-deadline.C:
			return fmt.Errorf("embednats: cluster: %w: no JetStream meta leader with every member after %s", ErrCluster, timeout)
		case <-tick.C:
		}
	}
}

// metaReady reports whether the running members have a meta leader that knows them all.
func (c *Cluster) metaReady() bool {
	running, leaders, peers := 0, 0, 0
	for _, s := range c.Servers {
		ns := s.NATS()
		if ns == nil {
			continue
		}
		running++
		if !ns.JetStreamIsCurrent() {
			return false
		}
		if ns.JetStreamIsLeader() {
			leaders++
			peers = len(ns.JetStreamClusterPeers())
		}
	}
	return running > 0 && leaders == 1 && peers >= running
}

// ClientURLs returns the client URLs of the running members, comma-separated, as nats.Connect takes them.
func (c *Cluster) ClientURLs() string {
	var urls []string
	for _, s := range c.Servers {
		if s.Running() {
			urls = append(urls, s.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// Stop shuts member i down abruptly, as a crash would, without handing over its leaderships.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
}

// Restart starts member i again on its ports and store.
func (c *Cluster) Restart(i int) error {
	return c.Servers[i].Restart()
}

// Shutdown stops every member and waits for them.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
}

// freePorts asks the kernel for n distinct free loopback ports. They are released before use,
// so another process could take one in between; Start then fails with a clear error.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(DefaultHost, "0"))
		if err != nil {
			return nil, fmt.Errorf("reserve a route port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
