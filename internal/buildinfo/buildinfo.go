// Package buildinfo says which versions of which modules a binary was built from, as its
// build information records them: the one reader of it for every host (mms, choria, the
// fleet status).
package buildinfo

import "runtime/debug"

// MMSModule is this project's module path.
const MMSModule = "github.com/mms-io/mms"

// ModuleVersion returns the version of module path this binary was built with: "(devel)" for
// the main module of a working tree, the replacement's version for a replaced module, and
// "unknown" without build information or when path is not in the binary.
func ModuleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if info.Main.Path == path {
		return info.Main.Version
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}
