package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/choria-io/fisk"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/nodeloop"
	"github.com/mms-io/mms/watchers"
)

// otherValue is a valid value of st that is not its default, as the text a flag takes.
func otherValue(t *testing.T, st nodeloop.Setting) string {
	t.Helper()
	switch st.Kind {
	case nodeloop.KindBool:
		return "true"
	case nodeloop.KindSchemes:
		return "https"
	case nodeloop.KindDuration:
		return (3*time.Second + 500*time.Millisecond).String()
	default:
		return fmt.Sprint(st.Min + 7)
	}
}

// agentSettings parses args as mms agent's setting flags would be, without running anything.
func agentSettings(t *testing.T, args ...string) nodeloop.Settings {
	t.Helper()
	var n nodeFlags
	app := fisk.New("mms", "")
	n.register(app.Command("agent", ""), nodeloop.ScopeLoop)
	if _, err := app.Parse(append([]string{"agent", "--dir", t.TempDir()}, args...)); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	if err := n.parseSettings(); err != nil {
		t.Fatalf("settings of %v: %v", args, err)
	}
	return n.settings
}

// TestSettingsReachEveryHost checks that every setting of nodeloop.Table is reachable both as
// a Choria watcher property and as an mms agent flag, with the same default and the same value.
func TestSettingsReachEveryHost(t *testing.T) {
	const machineDir = "/etc/choria/machines/machines_manager"

	t.Run("with nothing given, both hosts take the table's defaults", func(t *testing.T) {
		ws, err := watchers.ParseProperties(map[string]any{"data_item": "spec"}, machineDir)
		if err != nil {
			t.Fatal(err)
		}
		interval, err := watchers.ParseInterval("")
		if err != nil {
			t.Fatal(err)
		}
		ws.Node.Interval = interval
		defaults := nodeloop.DefaultSettings()
		if !reflect.DeepEqual(ws.Node, defaults) {
			t.Errorf("watcher defaults %+v\nwant %+v", ws.Node, defaults)
		}
		if cli := agentSettings(t); !reflect.DeepEqual(cli, defaults) {
			t.Errorf("mms agent defaults %+v\nwant %+v", cli, defaults)
		}
	})

	for _, st := range nodeloop.Table {
		t.Run(st.Name+" is the property "+st.Name+" and the flag --"+st.FlagName(), func(t *testing.T) {
			value := otherValue(t, st)
			defaults := nodeloop.DefaultSettings()
			if st.Get(&defaults) == value {
				t.Fatalf("the test's value %s is the default", value)
			}

			var watcher nodeloop.Settings
			if st.Name == "interval" {
				// A watcher's interval is its own interval:, as for every Choria watcher.
				d, err := watchers.ParseInterval(value)
				if err != nil {
					t.Fatal(err)
				}
				watcher.Interval = d
			} else {
				ws, err := watchers.ParseProperties(map[string]any{"data_item": "spec", st.Name: value}, machineDir)
				if err != nil {
					t.Fatalf("property %s: %s: %v", st.Name, value, err)
				}
				watcher = ws.Node
			}
			flag := []string{"--" + st.FlagName(), value}
			if st.Kind == nodeloop.KindBool {
				flag = flag[:1]
			}
			cli := agentSettings(t, flag...)

			if got := st.Get(&watcher); got != value {
				t.Errorf("the watcher property gave %s, want %s", got, value)
			}
			if got := st.Get(&cli); got != value {
				t.Errorf("the flag gave %s, want %s", got, value)
			}
		})
	}

	t.Run("a value out of bounds is refused by both, naming the setting", func(t *testing.T) {
		st, _ := nodeloop.Lookup("max_files")
		if _, err := watchers.ParseProperties(map[string]any{"data_item": "spec", "max_files": 0}, machineDir); err == nil {
			t.Error("the watcher accepted max_files 0")
		}
		var n nodeFlags
		app := fisk.New("mms", "")
		n.register(app.Command("agent", ""), nodeloop.ScopeLoop)
		if _, err := app.Parse([]string{"agent", "--dir", t.TempDir(), "--" + st.FlagName(), "0"}); err != nil {
			t.Fatal(err)
		}
		if err := n.parseSettings(); err == nil {
			t.Error("mms agent accepted --max-files 0")
		}
	})
}

// TestEveryLimitHasAHint checks that every limit the core reports by name is a setting, which
// each host names in its own words when a failure hits it.
func TestEveryLimitHasAHint(t *testing.T) {
	limits := []string{fetch.LimitMaxBytes, fetch.LimitMaxRedirects, fetch.LimitTimeout,
		archive.LimitMaxUnpackedBytes, archive.LimitMaxFiles, archive.LimitMaxPathLength,
		match.LimitLength, match.LimitNodes, match.LimitSteps, match.LimitBytes, match.LimitTime}
	for _, name := range limits {
		st, ok := nodeloop.Lookup(name)
		if !ok {
			t.Errorf("limit %s is not a setting of nodeloop.Table", name)
			continue
		}
		if got, want := flagHint(name), "--"+st.FlagName(); got != want {
			t.Errorf("the CLI's hint for %s is %q, want %q", name, got, want)
		}
		if got := watchers.PropertyHint(name); !strings.Contains(got, "the "+name+" property") {
			t.Errorf("the watcher's hint for %s is %q", name, got)
		}
	}
	// Fixed limits have no setting, and so no hint: before the hosts said it, the error
	// pointed at a --max-facts-bytes flag that never existed.
	for _, fixed := range []string{match.LimitFactsBytes, "max_spec_bytes"} {
		if flagHint(fixed) != "" || watchers.PropertyHint(fixed) != "" {
			t.Errorf("a hint for %s, which no setting raises", fixed)
		}
	}
}
