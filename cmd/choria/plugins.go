package main

import (
	"github.com/choria-io/go-choria/plugin"

	"github.com/mms-io/mms/internal/choriacli"
	"github.com/mms-io/mms/manager"
	"github.com/mms-io/mms/watchers"
)

// mmsPlugins are ours, under the names user_plugins.yaml gives them.
var mmsPlugins = []choriacli.Plugin{
	{Name: "machines_manager", New: func() plugin.Pluggable { return manager.ChoriaPlugin() }},
	{Name: "machines_watcher", New: func() plugin.Pluggable { return watchers.ChoriaPlugin() }},
}
