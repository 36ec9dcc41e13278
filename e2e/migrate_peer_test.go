package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stockChoriaMain is the main package of the peer: a stock go-choria v0.29.4 choria with the
// standard plugins of its packager/plugins.yaml plus go-choria's own machines watcher
// (aagent/watchers/machineswatcher) and its manager machine (machineswatcher/manager), as a
// fleet ran it before mms. It is built only by these tests, in a temporary module that
// requires what ours requires; the product never imports it.
const stockChoriaMain = `package main

import (
	"os"

	"github.com/choria-io/go-choria/cmd"
	"github.com/choria-io/go-choria/plugin"
	log "github.com/sirupsen/logrus"

	archivewatcher "github.com/choria-io/go-choria/aagent/watchers/archivewatcher"
	execwatcher "github.com/choria-io/go-choria/aagent/watchers/execwatcher"
	kvwatcher "github.com/choria-io/go-choria/aagent/watchers/kvwatcher"
	machineswatcher "github.com/choria-io/go-choria/aagent/watchers/machineswatcher"
	machinesmanager "github.com/choria-io/go-choria/aagent/watchers/machineswatcher/manager"
	pluginswatcher "github.com/choria-io/go-choria/aagent/watchers/pluginswatcher"
	timerwatcher "github.com/choria-io/go-choria/aagent/watchers/timerwatcher"
	machinedata "github.com/choria-io/go-choria/aagent/data/machinedata"
	choriadata "github.com/choria-io/go-choria/providers/data/golang/choriadata"
	golangmco "github.com/choria-io/go-choria/providers/agent/mcorpc/golang"
)

func main() {
	for name, p := range map[string]plugin.Pluggable{
		"archive_watcher":  archivewatcher.ChoriaPlugin(),
		"exec_watcher":     execwatcher.ChoriaPlugin(),
		"kv_watcher":       kvwatcher.ChoriaPlugin(),
		"machines_watcher": machineswatcher.ChoriaPlugin(),
		"machines_manager": machinesmanager.ChoriaPlugin(),
		"plugins_watcher":  pluginswatcher.ChoriaPlugin(),
		"timer_watcher":    timerwatcher.ChoriaPlugin(),
		"machine_data":     machinedata.ChoriaPlugin(),
		"choria_data":      choriadata.ChoriaPlugin(),
		"golangmco":        golangmco.ChoriaPlugin(),
	} {
		if err := plugin.Register(name, p); err != nil {
			log.Fatalf("register %s: %s", name, err)
		}
	}
	if err := cmd.ParseCLI(); err != nil {
		log.Fatalf("Could not configure Choria: %s", err)
	}
	if err := cmd.Run(); err != nil {
		log.Fatalf("Could not run Choria: %s", err)
	}
	os.Exit(0)
}
`

// buildStockChoria builds the peer into a temporary directory of t and returns its path.
func buildStockChoria(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gomod = regexp.MustCompile(`(?m)^module .*$`).ReplaceAll(gomod, []byte("module mmse2epeer"))
	gosum, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": gomod, "go.sum": gosum, "main.go": []byte(stockChoriaMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	started := time.Now()
	bin := filepath.Join(dir, "choria-stock")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	// Everything comes from the module cache, at the versions our go.mod pins.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GONOSUMDB=github.com/goss-org/goss")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the stock go-choria peer: %v\n%s", err, out)
	}
	t.Logf("built the stock go-choria v0.29.4 peer in %.1fs", time.Since(started).Seconds())
	return bin
}

// repoRoot is the module root: the parent of this package's directory.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(wd, string(filepath.Separator)+"e2e")
}
