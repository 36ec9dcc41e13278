package main

import (
	"fmt"
	"runtime/debug"
)

// versionText says which mms this is: the module version (or the -X main.version a release
// build sets) and the VCS revision it was built from. (mms itself holds no go-choria code; the
// node binary's `choria buildinfo` names the go-choria release.)
func versionText() string {
	mod, rev := version, "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if version == "development" && info.Main.Version != "" {
			mod = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	return fmt.Sprintf("mms %s (revision %s)", mod, rev)
}
