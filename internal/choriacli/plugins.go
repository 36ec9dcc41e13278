package choriacli

import (
	"fmt"

	"github.com/choria-io/go-choria/plugin"

	archivewatcher "github.com/choria-io/go-choria/aagent/watchers/archivewatcher"
	ccmmanifestwatcher "github.com/choria-io/go-choria/aagent/watchers/ccmmanifestwatcher"
	execwatcher "github.com/choria-io/go-choria/aagent/watchers/execwatcher"
	expressionwatcher "github.com/choria-io/go-choria/aagent/watchers/expressionwatcher"
	filewatcher "github.com/choria-io/go-choria/aagent/watchers/filewatcher"
	gossipwatcher "github.com/choria-io/go-choria/aagent/watchers/gossipwatcher"
	httpswitchwatcher "github.com/choria-io/go-choria/aagent/watchers/httpswitchwatcher"
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
)

// Plugin is one plugin to register with go-choria under its packager name.
type Plugin struct {
	// Name is the plugin's key in go-choria's packager/plugins.yaml or user_plugins.yaml.
	Name string
	// New returns the plugin.
	New func() plugin.Pluggable
}

// StandardPlugins are the plugins of go-choria v0.30.2's packager/plugins.yaml, under the same
// names, in the (sorted) order its generated loaders register them. go-choria's machines
// watcher is not among them in v0.30.2, and mms's takes its type name.
var StandardPlugins = []Plugin{
	{"archive_watcher", func() plugin.Pluggable { return archivewatcher.ChoriaPlugin() }},
	{"ccmmanifest_watcher", func() plugin.Pluggable { return ccmmanifestwatcher.ChoriaPlugin() }},
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
	{"httpswitch_watcher", func() plugin.Pluggable { return httpswitchwatcher.ChoriaPlugin() }},
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

// Register registers every plugin of each list with go-choria, in order. A name or type
// registered twice is an error naming the plugin.
func Register(lists ...[]Plugin) error {
	for _, list := range lists {
		for _, p := range list {
			if err := plugin.Register(p.Name, p.New()); err != nil {
				return fmt.Errorf("register plugin %s: %w", p.Name, err)
			}
		}
	}
	return nil
}
