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

// servers is the embedded NATS the fleet talks to: one server, or a 3-server cluster.
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

// urls is the comma-separated client URLs of the running servers.
func (s *servers) urls() string {
	if s.cluster != nil {
		return s.cluster.ClientURLs()
	}
	return s.single.ClientURL()
}

// replicas is the replica count the bucket gets.
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

// inMsgs sums the messages the running servers received (clients, routes and internal).
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

// streamLeader returns the index and name of the cluster member leading the bucket's stream:
// the member whose loss hurts most.
func (s *servers) streamLeader(ctx context.Context, js jetstream.JetStream, bucket string) (int, string, error) {
	if s.cluster == nil {
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
	for i, m := range s.cluster.Servers {
		if m.Name() == info.Cluster.Leader {
			return i, m.Name(), nil
		}
	}
	return 0, "", fmt.Errorf("stream leader %q is not a member (%s)", info.Cluster.Leader, strings.Join(names(s.cluster.Servers), ", "))
}

// kill stops cluster member i abruptly, as a crash would.
func (s *servers) kill(i int) { s.cluster.Stop(i) }

func names(ss []*embednats.Server) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

// shutdown stops every server.
func (s *servers) shutdown() {
	if s.cluster != nil {
		s.cluster.Shutdown()
		return
	}
	s.single.Shutdown()
}
