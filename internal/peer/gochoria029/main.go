// Command gochoria029 is a stock go-choria v0.29.4 choria, as a fleet ran it before mms: the
// standard watchers a node needs for the tests, go-choria's own machines watcher
// (aagent/watchers/machineswatcher) and its manager machine, go-choria's plugins manager, and
// go-choria's whole command line (kv, req, machine watch, machine plugins pack, ...).
//
// It is a separate Go module (go.mod beside this file) pinned at go-choria v0.29.4, built only
// by tests through internal/peer; the product never imports it. Its sibling command mms
// (go-choria's aagent/watchers/machineswatcher/cmd) is built from the same module.
package main

import (
	"os"

	"github.com/choria-io/go-choria/cmd"
	"github.com/choria-io/go-choria/plugin"
	log "github.com/sirupsen/logrus"

	machinedata "github.com/choria-io/go-choria/aagent/data/machinedata"
	archivewatcher "github.com/choria-io/go-choria/aagent/watchers/archivewatcher"
	execwatcher "github.com/choria-io/go-choria/aagent/watchers/execwatcher"
	kvwatcher "github.com/choria-io/go-choria/aagent/watchers/kvwatcher"
	machineswatcher "github.com/choria-io/go-choria/aagent/watchers/machineswatcher"
	machinesmanager "github.com/choria-io/go-choria/aagent/watchers/machineswatcher/manager"
	pluginswatcher "github.com/choria-io/go-choria/aagent/watchers/pluginswatcher"
	timerwatcher "github.com/choria-io/go-choria/aagent/watchers/timerwatcher"
	golangmco "github.com/choria-io/go-choria/providers/agent/mcorpc/golang"
	choriadata "github.com/choria-io/go-choria/providers/data/golang/choriadata"
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
