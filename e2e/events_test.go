package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// notificationSubject is where Choria publishes the machines watchers' state notifications.
const notificationSubject = "choria.machine.watcher.machines.state"

// notification is the part of a machines watcher state notification the suite reads.
type notification struct {
	Identity    string `json:"identity"`
	Machine     string `json:"machine"`
	Outcome     string `json:"outcome"`
	Triggers    []string
	Revision    uint64 `json:"revision"`
	SpecVersion int64  `json:"spec_version"`
	Signed      bool   `json:"signed"`
	Error       string `json:"error"`
	Outcomes    []struct {
		Name   string `json:"name"`
		Action string `json:"action"`
		Reason string `json:"reason"`
		Error  string `json:"error"`
		Failed bool   `json:"failed"`
	} `json:"outcomes"`
	// Machines names the machines mms manages, as go-choria's notification does.
	Machines []string `json:"machines"`

	received time.Time
	raw      string
}

// String is the notification's JSON, for failure messages.
func (n notification) String() string { return n.raw }

// forMachine tells what the notification says about one machine, "" when it says nothing.
func (n notification) forMachine(name string) string {
	for _, m := range n.Outcomes {
		if m.Name == name {
			return strings.TrimSpace(fmt.Sprintf("%s failed=%v %s %s", m.Action, m.Failed, m.Reason, m.Error))
		}
	}
	return ""
}

// notifications collects every machines watcher notification published on the broker, as an
// operator's `choria machine watch` would see them.
type notifications struct {
	nc *nats.Conn

	mu  sync.Mutex
	all []notification
}

// watchNotifications subscribes with the operator's certificate and keeps subscribing across
// broker restarts.
func (c *cluster) watchNotifications() *notifications {
	t := c.t
	t.Helper()
	ns := &notifications{}
	nc, err := nats.Connect(c.url(),
		nats.ClientCert(c.client.cert, c.client.key),
		nats.RootCAs(c.pki.caFile),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.Name("mms-e2e-notifications"),
	)
	if err != nil {
		t.Fatalf("subscribe to notifications: %v", err)
	}
	t.Cleanup(nc.Close)
	_, err = nc.Subscribe(notificationSubject, func(m *nats.Msg) {
		var ce struct {
			Data notification `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ce); err != nil {
			return
		}
		n := ce.Data
		n.received = time.Now()
		n.raw = string(m.Data)
		ns.mu.Lock()
		ns.all = append(ns.all, n)
		ns.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("subscribe to notifications: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("subscribe to notifications: %v", err)
	}
	ns.nc = nc
	return ns
}

// since returns the notifications of the manager on identity received after t.
func (ns *notifications) since(identity, machine string, after time.Time) []notification {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var out []notification
	for _, n := range ns.all {
		if n.Identity == identity && n.Machine == machine && n.received.After(after) {
			out = append(out, n)
		}
	}
	return out
}

// await waits until identity's machine published a notification after `after` for which ok
// holds, and returns it.
func (ns *notifications) await(t *testing.T, timeout time.Duration, identity, machine string, after time.Time, what string, ok func(notification) bool) notification {
	t.Helper()
	var found notification
	waitFor(t, timeout, identity+" to notify "+what, func() (bool, string) {
		seen := ns.since(identity, machine, after)
		for _, n := range seen {
			if ok(n) {
				found = n
				return true, ""
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d notifications since then", len(seen))
		for _, n := range seen {
			b.WriteString("\n" + n.raw)
		}
		return false, b.String()
	})
	return found
}
