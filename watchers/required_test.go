package watchers

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/choria-io/go-choria/aagent/machine"
)

// TestForeignStateRequired loads a machines watcher whose machine.yaml requires another
// machine's state (foreign_state_required, go-choria v0.30), beside that real machine, and
// checks that the framework holds the watcher back until the other machine is in that state.
func TestForeignStateRequired(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "machines")
	network, _, _ := startMachine(t, "network", dir, nil)
	// Choria's autonomous agent host answers a watcher's question about another machine's
	// state from the machines it runs; here the host runs one other machine.
	lookup := func(name string) (string, error) {
		if name != network.Name() {
			return "", fmt.Errorf("could not find machine matching name='%s'", name)
		}
		return network.State(), nil
	}
	m, n, _ := startMachine(t, "required", dir, func(m *machine.Machine) error {
		m.SetExternalMachineStateQuery(lookup)
		return m.DataPut("spec", `{"machines":"W10="}`)
	})

	t.Run("does not reconcile while the required machine is in another state", func(t *testing.T) {
		n.waitLines(t, 2, regexp.MustCompile(`Not reconciling in state MANAGE, requiring network UP \(now DOWN\)`))
		if got := n.published(); got != 0 {
			t.Fatalf("published %d states while network was DOWN:\n%s", got, n.summary())
		}
	})

	t.Run("reconciles at the next interval once it is", func(t *testing.T) {
		if err := network.Transition("up"); err != nil {
			t.Fatal(err)
		}
		s, _ := n.waitState(t, 0, "a reconcile after network came up", func(s *StateNotification) bool {
			return s.Outcome == SummaryUnchanged
		})
		if !has(s, "interval") {
			t.Errorf("reconciled on %v, want the interval", s.Triggers)
		}
		if m.State() != "MANAGE" {
			t.Errorf("machine in %s", m.State())
		}
	})

	t.Run("stops again when the required machine leaves that state", func(t *testing.T) {
		if err := network.Transition("down"); err != nil {
			t.Fatal(err)
		}
		before := n.countLines(regexp.MustCompile(`now DOWN`))
		n.waitLines(t, before+1, regexp.MustCompile(`Not reconciling in state MANAGE, requiring network UP \(now DOWN\)`))
	})
}
