package peer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Program is one peer program: what to build, from which module.
type Program struct {
	// Name is the file name of the built binary and how logs name it.
	Name string
	// Module is the directory of the Go module it is built in, relative to the repository root.
	Module string
	// Package is the package to build, as go build takes it in Module.
	Package string
}

// The peers.
var (
	// Choria029 is go-choria v0.29.4's choria: its whole CLI (kv, req, machine watch, machine
	// plugins pack, ...) and a server running go-choria's machines watcher, its manager machine
	// and its plugins manager.
	Choria029 = Program{Name: "choria-v0.29.4", Module: "internal/peer/gochoria029", Package: "."}
	// MMS029 is go-choria v0.29.4's own `mms` (keys, pack, verify) of its machines watcher.
	MMS029 = Program{Name: "mms-v0.29.4", Module: "internal/peer/gochoria029", Package: "github.com/choria-io/go-choria/aagent/watchers/machineswatcher/cmd"}
	// Choria030 is a stock go-choria v0.30.2 node: server and broker with the standard plugins
	// only, whose built-in plugins manager runs with `plugin.machines.download = true`.
	Choria030 = Program{Name: "choria-v0.30.2", Module: ".", Package: "./internal/peer/gochoria030"}
	// MMS030 is go-choria v0.30.2's own `mms` of its machines watcher.
	MMS030 = Program{Name: "mms-v0.30.2", Module: ".", Package: "github.com/choria-io/go-choria/aagent/watchers/machineswatcher/cmd"}
)

// RepoRoot is the root of this repository, found from this file's own path.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build builds p into dir and returns the binary's path. The first build of the v0.29.4
// module downloads its modules through the configured proxy and takes minutes; later builds
// come from Go's build cache. Build fails t when go build fails, with its output.
func Build(t testing.TB, p Program, dir string) string {
	t.Helper()
	started := time.Now()
	bin, err := BuildBinary(p, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the peer %s in %.1fs", p.Name, time.Since(started).Seconds())
	return bin
}

// BuildBinary is Build for a caller without a testing.TB, such as a TestMain: the error
// carries go build's output.
func BuildBinary(p Program, dir string) (string, error) {
	bin := filepath.Join(dir, p.Name)
	cmd := exec.Command("go", "build", "-o", bin, p.Package)
	cmd.Dir = filepath.Join(RepoRoot(), p.Module)
	// The v0.29.4 module is its own module, not part of a workspace; its go.sum is complete,
	// and the sum database lacks goss's entry, which go.sum already holds.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GONOSUMDB=github.com/goss-org/goss")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the peer %s (%s in %s): %w\n%s", p.Name, p.Package, p.Module, err, out)
	}
	return bin, nil
}
