package manager

import (
	"context"
	"slices"
	"testing"

	"github.com/choria-io/go-choria/aagent/machine"
	aawatchers "github.com/choria-io/go-choria/aagent/watchers"

	"github.com/mms-io/mms/watchers"
)

func TestManager(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("loads and validates as a machine", func(t *testing.T) {
		p := ChoriaPlugin()
		if p.Name() != Name {
			t.Fatalf("plugin name %q", p.Name())
		}
		m, err := machine.FromPlugin(p, aawatchers.New(ctx), nil)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if m.Name() != Name || m.State() != "MANAGE" {
			t.Fatalf("machine %s in %s", m.Name(), m.State())
		}
		if got := m.KnownStates(); !slices.Contains(got, "MANAGE") || !slices.Contains(got, "MAINTENANCE") {
			t.Fatalf("states %v", got)
		}
		if !m.Can("enter_maintenance") || m.Can("resume") {
			t.Fatal("from MANAGE, enter_maintenance must be possible and resume not")
		}
	})

	t.Run("runs one machines watcher in MANAGE on MACHINES/machines that purges", func(t *testing.T) {
		m := ChoriaPlugin().Machine().(*machine.Machine)
		defs := m.Watchers()
		if len(defs) != 1 {
			t.Fatalf("%d watchers", len(defs))
		}
		d := defs[0]
		if d.Type != watchers.WatcherType || !slices.Equal(d.StateMatch, []string{"MANAGE"}) {
			t.Fatalf("watcher %+v", d)
		}
		s, err := watchers.ParseProperties(d.Properties, "/etc/choria/machines/"+Name)
		if err != nil {
			t.Fatalf("properties: %v", err)
		}
		if s.Bucket != "MACHINES" || s.Key != "machines" || !s.Node.Purge || s.MachinesDirectory != "/etc/choria/machines" {
			t.Fatalf("settings %+v", s)
		}
		if _, err := watchers.ParseInterval(d.Interval); err != nil {
			t.Fatalf("interval: %v", err)
		}
	})
}
