package choriacli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ghodss/yaml"
)

// stockPlugins reads packager/plugins.yaml of the go-choria release in our module graph.
func stockPlugins(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", goChoriaModule).Output()
	if err != nil {
		t.Fatalf("locate %s: %v", goChoriaModule, err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if version != "v0.30.2" {
		t.Fatalf("go-choria is at %s in the module graph, want v0.30.2", version)
	}
	file := filepath.Join(dir, "packager", "plugins.yaml")
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
	t.Run("are the plugins of go-choria v0.30.2's packager/plugins.yaml, sorted, under their names", func(t *testing.T) {
		var want, got []string
		for name := range stockPlugins(t) {
			want = append(want, name)
		}
		slices.Sort(want)
		for _, p := range StandardPlugins {
			got = append(got, p.Name)
		}
		if !slices.IsSorted(got) {
			t.Errorf("not sorted: %v", got)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("standard plugins differ from packager/plugins.yaml\n got: %v\nwant: %v", got, want)
		}
	})

	t.Run("do not include go-choria's machines watcher", func(t *testing.T) {
		for _, p := range StandardPlugins {
			if p.Name == "machines_watcher" {
				t.Fatal("machines_watcher is a standard plugin")
			}
		}
	})
}
