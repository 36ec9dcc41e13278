package main

import (
	"testing"

	"github.com/mms-io/mms/internal/scenarios"
)

// agentHost is a real `mms agent` process as a host of the shared scenarios.
type agentHost struct {
	dir string
	p   *process
}

func (h agentHost) Dir() string { return h.dir }
func (h agentHost) Log() string { return h.p.stderr.String() }

// TestScenarios runs the node loop's shared behaviours against mms agent.
func TestScenarios(t *testing.T) {
	scenarios.Run(t, func(t *testing.T, env *scenarios.Env) scenarios.Host {
		work, dir := machinesDir(t)
		p := startMMS(t, work, "agent", "--dir", dir, "--server", env.URL, "--bucket", scenarios.Bucket, "--key", scenarios.Key,
			"--public-key", env.PublicKey, "--purge", "--interval", "200ms", "--splay", "0s", "--verbose")
		return agentHost{dir: dir, p: p}
	})
}
