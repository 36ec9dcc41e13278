package watchers

import (
	"github.com/choria-io/go-choria/aagent/watchers/plugin"
)

const (
	// WatcherType is the watcher type name used in machine.yaml: `type: machines`.
	WatcherType = "machines"
	// NotificationVersion is the version in the notification's CloudEvent type.
	NotificationVersion = "v1"
)

// ChoriaPlugin returns the watcher plugin to register with go-choria's plugin.Register, or
// to list in packager/user_plugins.yaml.
func ChoriaPlugin() *plugin.WatcherPlugin {
	return plugin.NewWatcherPlugin(WatcherType, NotificationVersion, func() any { return &StateNotification{} }, New)
}
