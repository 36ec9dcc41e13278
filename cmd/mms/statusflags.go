package main

import (
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
)

// statusFlags say where a node publishes its fleet status (package fleet).
type statusFlags struct {
	bucket    string
	heartbeat time.Duration
}

func (s *statusFlags) register(cmd *fisk.CmdClause) {
	cmd.Flag("status-bucket", "The Key-Value bucket this node publishes its status to, for mms status --fleet (empty: publish none)").Default(fleet.DefaultBucket).StringVar(&s.bucket)
	cmd.Flag("status-heartbeat", "How often this node publishes its status when nothing changed; it counts as offline after three missed").Default(fleet.DefaultHeartbeat.String()).DurationVar(&s.heartbeat)
}

// minStatusHeartbeat is the shortest heartbeat mms agent takes.
const minStatusHeartbeat = 100 * time.Millisecond

// check refuses a bucket name JetStream would not take, and a heartbeat too short to be one.
func (s *statusFlags) check() error {
	if s.bucket != "" {
		if err := kvspec.CheckBucket(s.bucket); err != nil {
			return usageError("--status-bucket: %v", err)
		}
	}
	if s.heartbeat < minStatusHeartbeat {
		return usageError("--status-heartbeat %v: the shortest is %v", s.heartbeat, minStatusHeartbeat)
	}
	return nil
}
