package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	goChoria          = "github.com/choria-io/go-choria"
	machinesWatcher   = goChoria + "/aagent/watchers/machineswatcher"
	pluginsWatcher    = goChoria + "/aagent/watchers/pluginswatcher"
	archiveWatcher    = goChoria + "/aagent/watchers/archivewatcher"
	natsModulesPrefix = "github.com/nats-io/"
)

// deps lists the import paths the packages matching pattern depend on, their tests included
// when withTests is set. A pattern that matches no package yet yields no dependencies.
func deps(t *testing.T, pattern string, withTests bool) map[string]bool {
	t.Helper()
	args := []string{"list", "-e", "-deps", "-f", "{{.ImportPath}}"}
	if withTests {
		args = append(args, "-test")
	}
	args = append(args, "github.com/mms-io/mms/"+pattern)
	cmd := exec.Command("go", args...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	found := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		// -test lists test variants as "path [pkg.test]"; the path is what matters.
		if path, _, _ := strings.Cut(strings.TrimSpace(line), " "); path != "" {
			found[path] = true
		}
	}
	return found
}

// touchSources reads go.mod and every Go file of the packages checked, so that go test's
// result cache (which tracks files a test opens, not what a child go list reads) reruns this
// test whenever an import may have changed.
func touchSources(t *testing.T) {
	t.Helper()
	root := filepath.Join("..", "..")
	if _, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"machines", "nodeloop", "fleet", "kvspec", "objstore", "embednats", "watchers", "manager", "internal", filepath.Join("cmd", "mms"), filepath.Join("cmd", "choria")} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
				_, _ = os.ReadFile(path)
			}
			return nil
		})
	}
}

func TestProductDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	touchSources(t)

	for _, pattern := range []string{"machines/...", "watchers/...", "manager/...", "cmd/mms/..."} {
		t.Run(pattern+" depends on none of go-choria's machines, plugins or archive watchers", func(t *testing.T) {
			found := deps(t, pattern, true)
			for _, forbidden := range []string{machinesWatcher, pluginsWatcher, archiveWatcher} {
				for path := range found {
					if path == forbidden || strings.HasPrefix(path, forbidden+"/") {
						t.Errorf("%s depends on %s", pattern, path)
					}
				}
			}
		})
	}

	t.Run("cmd/choria never depends on go-choria's machines watcher", func(t *testing.T) {
		found := deps(t, "cmd/choria/...", true)
		if len(found) == 0 {
			t.Fatal("go list found no dependencies for cmd/choria")
		}
		for path := range found {
			if path == machinesWatcher || strings.HasPrefix(path, machinesWatcher+"/") {
				t.Errorf("cmd/choria depends on %s", path)
			}
		}
		for _, wanted := range []string{pluginsWatcher, archiveWatcher, goChoria + "/server", goChoria + "/broker/network"} {
			if !found[wanted] {
				t.Errorf("cmd/choria does not depend on %s, which the stock build has", wanted)
			}
		}
		// go-choria's CLI package needs appbuilder v0.17.1, which cannot be had here.
		if found[goChoria+"/cmd"] {
			t.Errorf("cmd/choria depends on %s", goChoria+"/cmd")
		}
	})

	t.Run("no product package depends on a test helper or peer", func(t *testing.T) {
		testOnly := []string{"internal/peer", "internal/scenarios", "internal/testarchive", "internal/testnats", "internal/testwait"}
		for _, pattern := range []string{"machines/...", "nodeloop/...", "fleet/...", "kvspec/...", "objstore/...", "embednats/...", "watchers/...", "manager/...", "cmd/mms/...", "cmd/choria/..."} {
			for path := range deps(t, pattern, false) {
				for _, helper := range testOnly {
					if h := "github.com/mms-io/mms/" + helper; path == h || strings.HasPrefix(path, h+"/") {
						t.Errorf("%s depends on %s, which only tests may use", pattern, path)
					}
				}
			}
		}
	})

	t.Run("every host runs the one node loop", func(t *testing.T) {
		for _, host := range []string{"watchers", "cmd/mms", "bench/fleet"} {
			if !deps(t, host, false)["github.com/mms-io/mms/nodeloop"] {
				t.Errorf("%s does not depend on nodeloop", host)
			}
		}
	})

	t.Run("machines/... depends on neither go-choria nor NATS", func(t *testing.T) {
		found := deps(t, "machines/...", true)
		for path := range found {
			if strings.HasPrefix(path, goChoria) || strings.HasPrefix(path, natsModulesPrefix) {
				t.Errorf("machines/... depends on %s", path)
			}
		}
	})
}

// TestSharedModuleVersions checks that every module go-choria's go.mod requires, and that our
// build also uses, is at the version go-choria requires: mms is compiled into Choria, whose
// build would otherwise pick other versions than the ones our tests ran against.
func TestSharedModuleVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module graph")
	}
	touchSources(t)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}} {{.GoMod}}", goChoria).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", goChoria, err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 3 || fields[1] != "v0.30.2" {
		t.Fatalf("go-choria in our build: %q, want v0.30.2", out)
	}
	gomod, err := os.ReadFile(fields[2])
	if err != nil {
		t.Fatal(err)
	}
	wants := map[string]string{}
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "v") {
			wants[f[0]] = f[1]
		}
	}
	// -e: appbuilder v0.17.1 is in the graph (go-choria's cmd needs it) but not served.
	ours, err := exec.Command("go", "list", "-m", "-e", "-f", "{{.Path}} {{.Version}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(string(ours), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if want, ok := wants[f[0]]; ok {
			checked++
			if f[1] != want {
				t.Errorf("%s is at %s, go-choria v0.30.2 requires %s", f[0], f[1], want)
			}
		}
	}
	for _, m := range []string{"github.com/nats-io/nats-server/v2", "github.com/nats-io/nats.go", "github.com/expr-lang/expr", "github.com/choria-io/fisk", "github.com/cloudevents/sdk-go/v2", "github.com/tidwall/gjson"} {
		if _, ok := wants[m]; !ok {
			t.Errorf("go-choria's go.mod does not list %s", m)
		}
	}
	if checked < 50 {
		t.Errorf("compared only %d shared modules", checked)
	}
}
