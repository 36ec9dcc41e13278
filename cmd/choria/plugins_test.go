package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/choria-io/go-choria/build"
	"github.com/ghodss/yaml"
)

// stockPlugins reads go-choria v0.29.4's packager/plugins.yaml from the module cache.
func stockPlugins(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", goChoria).Output()
	if err != nil {
		t.Fatalf("locate %s: %v", goChoria, err)
	}
	file := filepath.Join(strings.TrimSpace(string(out)), "packager", "plugins.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	plugins := map[string]string{}
	if err := yaml.Unmarshal(data, &plugins); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return plugins
}

func TestStandardPlugins(t *testing.T) {
	t.Run("registers every plugin of go-choria's packager/plugins.yaml under its name", func(t *testing.T) {
		stock := stockPlugins(t)
		var want, got []string
		for name := range stock {
			want = append(want, name)
		}
		for _, p := range standardPlugins {
			got = append(got, p.name)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("standard plugins differ from packager/plugins.yaml\n got: %v\nwant: %v", got, want)
		}
	})
}

func TestMMSPlugins(t *testing.T) {
	t.Run("registers the plugins user_plugins.yaml lists, under the same names", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("..", "..", "user_plugins.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]string{}
		if err := yaml.Unmarshal(data, &listed); err != nil {
			t.Fatalf("parse user_plugins.yaml: %v", err)
		}
		var want, got []string
		for name := range listed {
			want = append(want, name)
		}
		for _, p := range mmsPlugins {
			got = append(got, p.name)
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("registered %v, user_plugins.yaml lists %v", got, want)
		}
		for name, path := range listed {
			if !strings.HasPrefix(path, "github.com/mms-io/mms/") {
				t.Errorf("%s: %s is not an mms package", name, path)
			}
		}
	})

	t.Run("lists the machines watcher and machines_manager in choria buildinfo", func(t *testing.T) {
		info := &build.Info{}
		if !slices.ContainsFunc(info.MachineWatchers(), func(s string) bool { return strings.HasPrefix(s, "Machines Watcher ") }) {
			t.Errorf("watchers: %v", info.MachineWatchers())
		}
		if !slices.ContainsFunc(info.Machines(), func(s string) bool { return strings.HasPrefix(s, "Machines_manager Autonomous Agent ") }) {
			t.Errorf("machines: %v", info.Machines())
		}
	})
}
