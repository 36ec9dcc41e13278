package buildinfo

import "testing"

// A test binary records its main module but no dependencies; the versions of dependencies
// are checked through built binaries (cmd/mms's TestVersionCommand, cmd/choria's buildinfo).
func TestModuleVersion(t *testing.T) {
	if got := ModuleVersion(MMSModule); got != "(devel)" {
		t.Errorf("ModuleVersion(%s) = %q, want (devel) in a work tree", MMSModule, got)
	}
	if got := ModuleVersion("example.net/not/in/this/binary"); got != "unknown" {
		t.Errorf("a module not in the binary: %q", got)
	}
}
