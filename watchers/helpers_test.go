package watchers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/choria-io/go-choria/aagent/machine"
	aawatchers "github.com/choria-io/go-choria/aagent/watchers"
)

// testIdentity is the node identity of the test machines.
const testIdentity = "node1.example.net"

// testMachine loads testdata/manager/machine.yaml from a copy in a temporary machines
// directory, so that machine data written by the tests stays out of testdata. It returns the
// machine and a notifier that collects what it publishes.
func testMachine(t *testing.T) (*machine.Machine, *notifier) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manager", "machine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "machines", "machines_manager")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "machine.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m, err := machine.FromYAML(filepath.Join(dir, "machine.yaml"), aawatchers.New(ctx))
	if err != nil {
		t.Fatalf("load machine: %v", err)
	}
	m.SetIdentity(testIdentity)

	n := &notifier{t: t, states: make(chan *StateNotification, 100)}
	m.RegisterNotifier(n)
	return m, n
}

// notifier is a machine.NotificationService that hands watcher states to the test and writes
// log lines to the test log. It never blocks the machine: states beyond the channel's
// capacity are only recorded in all.
type notifier struct {
	t      *testing.T
	mu     sync.Mutex
	lines  []string
	all    []*StateNotification
	states chan *StateNotification
}

func (n *notifier) NotifyPostTransition(*machine.TransitionNotification) error { return nil }

func (n *notifier) NotifyWatcherState(_ string, state machine.WatcherStateNotification) error {
	s, ok := state.(*StateNotification)
	if !ok {
		return nil // another watcher of the same machine, such as go-choria's kv watcher
	}
	n.mu.Lock()
	n.all = append(n.all, s)
	n.mu.Unlock()
	select {
	case n.states <- s:
	default:
	}
	return nil
}

func (n *notifier) log(level, watcher, format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	line := level + " " + watcher + ": " + fmt.Sprintf(format, args...)
	n.lines = append(n.lines, line)
	n.t.Log(line)
}

func (n *notifier) Debugf(_ machine.InfoSource, w string, f string, a ...any) {
	n.log("DEBUG", w, f, a...)
}
func (n *notifier) Infof(_ machine.InfoSource, w string, f string, a ...any) {
	n.log("INFO", w, f, a...)
}
func (n *notifier) Warnf(_ machine.InfoSource, w string, f string, a ...any) {
	n.log("WARN", w, f, a...)
}
func (n *notifier) Errorf(_ machine.InfoSource, w string, f string, a ...any) {
	n.log("ERROR", w, f, a...)
}

// next waits for the next published state, failing the test after a deadline.
func (n *notifier) next(t *testing.T) *StateNotification {
	t.Helper()
	select {
	case s := <-n.states:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no watcher state was published within 10s")
		return nil
	}
}
