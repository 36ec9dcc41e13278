package peer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// goChoriaDir returns the directory of go-choria in the module cache as the module in
// moduleDir requires it, downloading it when needed.
func goChoriaDir(t *testing.T, moduleDir string) (dir, version string) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/choria-io/go-choria")
	cmd.Dir = filepath.Join(RepoRoot(), moduleDir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download go-choria in %s: %v", moduleDir, err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		t.Fatalf("go mod download printed %s: %v", out, err)
	}
	return m.Dir, m.Version
}

// TestManagerTemplates checks that go-choria v0.29.4 and v0.30.2 render their manager machines
// (mm_<name>/machine.yaml) from the same templates, so that what mms recognises and retires
// (machines/legacy.go, tested against v0.29.4's renderings in machines/testdata/gochoria) is
// what either release writes.
func TestManagerTemplates(t *testing.T) {
	old, oldVersion := goChoriaDir(t, Choria029.Module)
	now, nowVersion := goChoriaDir(t, Choria030.Module)
	if oldVersion != "v0.29.4" || nowVersion != "v0.30.2" {
		t.Fatalf("the peers are built on go-choria %s and %s, want v0.29.4 and v0.30.2", oldVersion, nowVersion)
	}
	for _, tmpl := range []string{
		"aagent/watchers/machineswatcher/machine.yaml",
		"aagent/watchers/pluginswatcher/machine.yaml",
	} {
		t.Run(tmpl+" is the same in both releases", func(t *testing.T) {
			a, err := os.ReadFile(filepath.Join(old, tmpl))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(now, tmpl))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("the templates differ:\nv0.29.4:\n%s\nv0.30.2:\n%s", a, b)
			}
		})
	}
}
