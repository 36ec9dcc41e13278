package watchers

import (
	"strings"
	"testing"

	"github.com/mms-io/mms/internal/scenarios"
)

// watcherHost is the Choria watcher as a host of the shared scenarios: go-choria's machine
// loaded from testdata/kv (bucket MACHINES, key machines, purge_unknown, interval 2s), with the
// trusted key as Choria's signing key, connected by go-choria's connector.
type watcherHost struct{ nd *node }

func (h watcherHost) Dir() string { return h.nd.dir }

func (h watcherHost) Log() string {
	h.nd.n.mu.Lock()
	defer h.nd.n.mu.Unlock()
	return strings.Join(h.nd.n.lines, "\n")
}

// TestScenarios runs the node loop's shared behaviours against the Choria watcher.
func TestScenarios(t *testing.T) {
	scenarios.Run(t, func(t *testing.T, env *scenarios.Env) scenarios.Host {
		return watcherHost{startNode(t, "kv", choriaConnection(t, env.URL), env.PublicKey)}
	})
}
