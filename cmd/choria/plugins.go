package main

import (
	"fmt"

	"github.com/choria-io/go-choria/plugin"

	archivewatcher "github.com/choria-io/go-choria/aagent/watchers/archivewatcher"
	execwatcher "github.com/choria-io/go-choria/aagent/watchers/execwatcher"
	expressionwatcher "github.com/choria-io/go-choria/aagent/watchers/expressionwatcher"
	filewatcher "github.com/choria-io/go-choria/aagent/watchers/filewatcher"
	gossipwatcher "github.com/choria-io/go-choria/aagent/watchers/gossipwatcher"
	homekitwatcher "github.com/choria-io/go-choria/aagent/watchers/homekitwatcher"
	kvwatcher "github.com/choria-io/go-choria/aagent/watchers/kvwatcher"
	metricwatcher "github.com/choria-io/go-choria/aagent/watchers/metricwatcher"
	nagioswatcher "github.com/choria-io/go-choria/aagent/watchers/nagioswatcher"
	pluginswatcher "github.com/choria-io/go-choria/aagent/watchers/pluginswatcher"
	schedulewatcher "github.com/choria-io/go-choria/aagent/watchers/schedulewatcher"
	timerwatcher "github.com/choria-io/go-choria/aagent/watchers/timerwatcher"

	machinedata "github.com/choria-io/go-choria/aagent/data/machinedata"
	choriadata "github.com/choria-io/go-choria/providers/data/golang/choriadata"
	configdata "github.com/choria-io/go-choria/providers/data/golang/configdata"
	scoutdata "github.com/choria-io/go-choria/scout/data/scoutdata"

	externalmco "github.com/choria-io/go-choria/providers/agent/mcorpc/external"
	golangmco "github.com/choria-io/go-choria/providers/agent/mcorpc/golang"
	provision "github.com/choria-io/go-choria/providers/agent/mcorpc/golang/provision"
	registry "github.com/choria-io/go-choria/providers/agent/mcorpc/golang/registry"
	rubymco "github.com/choria-io/go-choria/providers/agent/mcorpc/ruby"
	scout "github.com/choria-io/go-choria/scout/agent/scout"

	"github.com/mms-io/mms/manager"
	"github.com/mms-io/mms/watchers"
)

// standardPlugins are the plugins of go-choria v0.29.4's packager/plugins.yaml, under the same
// names, registered in the same (sorted) order as its generated loaders register them.
var standardPlugins = []struct {
	name   string
	plugin func() plugin.Pluggable
}{
	{"archive_watcher", func() plugin.Pluggable { return archivewatcher.ChoriaPlugin() }},
	{"choria_data", func() plugin.Pluggable { return choriadata.ChoriaPlugin() }},
	{"choria_provision", func() plugin.Pluggable { return provision.ChoriaPlugin() }},
	{"choria_registry", func() plugin.Pluggable { return registry.ChoriaPlugin() }},
	{"config_item_data", func() plugin.Pluggable { return configdata.ChoriaPlugin() }},
	{"exec_watcher", func() plugin.Pluggable { return execwatcher.ChoriaPlugin() }},
	{"expression_watcher", func() plugin.Pluggable { return expressionwatcher.ChoriaPlugin() }},
	{"externalmco", func() plugin.Pluggable { return externalmco.ChoriaPlugin() }},
	{"file_watcher", func() plugin.Pluggable { return filewatcher.ChoriaPlugin() }},
	{"golangmco", func() plugin.Pluggable { return golangmco.ChoriaPlugin() }},
	{"gossip_watcher", func() plugin.Pluggable { return gossipwatcher.ChoriaPlugin() }},
	{"homekit_watcher", func() plugin.Pluggable { return homekitwatcher.ChoriaPlugin() }},
	{"kv_watcher", func() plugin.Pluggable { return kvwatcher.ChoriaPlugin() }},
	{"machine_data", func() plugin.Pluggable { return machinedata.ChoriaPlugin() }},
	{"metric_watcher", func() plugin.Pluggable { return metricwatcher.ChoriaPlugin() }},
	{"nagios_watcher", func() plugin.Pluggable { return nagioswatcher.ChoriaPlugin() }},
	{"plugins_watcher", func() plugin.Pluggable { return pluginswatcher.ChoriaPlugin() }},
	{"rubymco", func() plugin.Pluggable { return rubymco.ChoriaPlugin() }},
	{"schedule_watcher", func() plugin.Pluggable { return schedulewatcher.ChoriaPlugin() }},
	{"scout", func() plugin.Pluggable { return scout.ChoriaPlugin() }},
	{"scout_data", func() plugin.Pluggable { return scoutdata.ChoriaPlugin() }},
	{"timer_watcher", func() plugin.Pluggable { return timerwatcher.ChoriaPlugin() }},
}

// mmsPlugins are ours, under the names user_plugins.yaml gives them.
var mmsPlugins = []struct {
	name   string
	plugin func() plugin.Pluggable
}{
	{"machines_manager", func() plugin.Pluggable { return manager.ChoriaPlugin() }},
	{"machines_watcher", func() plugin.Pluggable { return watchers.ChoriaPlugin() }},
}

func init() {
	for _, list := range [][]struct {
		name   string
		plugin func() plugin.Pluggable
	}{standardPlugins, mmsPlugins} {
		for _, p := range list {
			if err := plugin.Register(p.name, p.plugin()); err != nil {
				panic(fmt.Sprintf("register plugin %s: %v", p.name, err))
			}
		}
	}
}
