package main

import (
	"fmt"
	"runtime/debug"

	"github.com/mms-io/mms/internal/buildinfo"
)

// goChoriaModule is go-choria's module path, whose version the build info records.
const goChoriaModule = "github.com/choria-io/go-choria"

// versionText says which mms this is: the module version (or the -X main.version a release
// build sets), the go-choria release it is built with (mms archive validates machines with
// go-choria's own loader) and the VCS revision it was built from.
func versionText() string {
	rev := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if nodeBuild {
		return fmt.Sprintf("mms %s (node build, without go-choria, revision %s)", moduleVersion(), rev)
	}
	return fmt.Sprintf("mms %s (go-choria %s, revision %s)", moduleVersion(), buildinfo.ModuleVersion(goChoriaModule), rev)
}

// isVersionFlag reports whether args ask for the version the way most tools take it,
// mms --version. It is read before the command line is parsed, because mms pack has a
// --version flag of its own (the specification's version) that an application-wide flag
// would shadow.
func isVersionFlag(args []string) bool {
	return len(args) == 1 && args[0] == "--version"
}

// moduleVersion is the mms version: the -X main.version a release build sets, else the
// module version the build info records.
func moduleVersion() string {
	if version == "development" {
		return buildinfo.ModuleVersion(buildinfo.MMSModule)
	}
	return version
}
