package choriacli

import (
	"github.com/mms-io/mms/internal/buildinfo"
	"strings"

	"github.com/choria-io/go-choria/build"
)

// upstreamDefaultVersion is build.Version's default in go-choria v0.30.2's source: the release
// did not bump it, so a binary built without -ldflags would call itself 0.29.4.
const upstreamDefaultVersion = "0.29.4"

// fixVersion makes the version the node reports (in logs, buildinfo, lifecycle events and its
// plugins' names) the go-choria release it is built on, unless the builder set build.Version
// with -ldflags. Plugins registered before it ran (in package init functions) are renamed too.
func fixVersion() {
	release := strings.TrimPrefix(buildinfo.ModuleVersion(goChoriaModule), "v")
	if build.Version != upstreamDefaultVersion || release == "unknown" || release == "" {
		return
	}
	build.Version = release
	old, now := " version "+upstreamDefaultVersion, " version "+release
	for _, list := range []*[]string{&build.AgentProviders, &build.MachineWatchers, &build.Machines, &build.DataProviders} {
		for i, name := range *list {
			if strings.HasSuffix(name, old) {
				(*list)[i] = strings.TrimSuffix(name, old) + now
			}
		}
	}
}
