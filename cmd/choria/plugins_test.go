package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
