package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mms-io/mms/embednats"
	"github.com/nats-io/nats.go/jetstream"
)

// natsServers is the NATS the fleet talks to: embedded in this process (servers) or in a
// child process (childServers, so that their CPU is measured apart).
type natsServers interface {
	// urls is the comma-separated client URLs of the servers.
	urls() string
	// replicas is the replica count the buckets get.
	replicas() int
	// names lists the members by index, running or not.
	names() []string
	// inMsgs sums the messages the running servers received (clients, routes and internal).
	inMsgs() int64
	// kill stops cluster member i abruptly, as a crash would.
	kill(i int)
	// usage is the servers' own CPU time and peak RSS (MiB) so far; ok is false when they
	// share this process, whose figures include the nodes.
	usage() (cpu time.Duration, rssMiB float64, ok bool)
	// shutdown stops every server.
	shutdown()
}

// servers is the embedded NATS in this process: one server, or a 3-server cluster.
type servers struct {
	single  *embednats.Server
	cluster *embednats.Cluster
}

// clusterSize is the number of servers of the -cluster setup, and the bucket's replicas.
const clusterSize = 3

// startServers starts one server, or a cluster of clusterSize, with their stores under dir.
func startServers(dir string, cluster bool) (*servers, error) {
	if cluster {
		c, err := embednats.StartCluster(clusterSize, filepath.Join(dir, "nats"))
		if err != nil {
			return nil, err
		}
		return &servers{cluster: c}, nil
	}
	s, err := embednats.Start(embednats.Options{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		return nil, err
	}
	return &servers{single: s}, nil
}

func (s *servers) urls() string {
	if s.cluster != nil {
		return s.cluster.ClientURLs()
	}
	return s.single.ClientURL()
}

func (s *servers) replicas() int {
	if s.cluster != nil {
		return clusterSize
	}
	return 1
}

// members lists the servers, running or not.
func (s *servers) members() []*embednats.Server {
	if s.cluster != nil {
		return s.cluster.Servers
	}
	return []*embednats.Server{s.single}
}

func (s *servers) names() []string {
	var out []string
	for _, m := range s.members() {
		out = append(out, m.Name())
	}
	return out
}

func (s *servers) inMsgs() int64 {
	var n int64
	for _, m := range s.members() {
		ns := m.NATS()
		if ns == nil {
			continue
		}
		if v, err := ns.Varz(nil); err == nil {
			n += v.InMsgs
		}
	}
	return n
}

func (s *servers) kill(i int) { s.cluster.Stop(i) }

func (s *servers) usage() (time.Duration, float64, bool) { return 0, 0, false }

func (s *servers) shutdown() {
	if s.cluster != nil {
		s.cluster.Shutdown()
		return
	}
	s.single.Shutdown()
}

// streamLeader returns the index and name of the cluster member leading the bucket's stream:
// the member whose loss hurts most.
func streamLeader(ctx context.Context, s natsServers, js jetstream.JetStream, bucket string) (int, string, error) {
	if s.replicas() < clusterSize {
		return 0, "", fmt.Errorf("failover needs -cluster")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return 0, "", fmt.Errorf("find the stream leader: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		return 0, "", fmt.Errorf("find the stream leader: %v", err)
	}
	for i, name := range s.names() {
		if name == info.Cluster.Leader {
			return i, name, nil
		}
	}
	return 0, "", fmt.Errorf("stream leader %q is not a member (%s)", info.Cluster.Leader, strings.Join(s.names(), ", "))
}
