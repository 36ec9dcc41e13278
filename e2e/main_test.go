package e2e

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/peer"
)

// Binaries built once per run by TestMain: ours from the working tree, and the peers.
var (
	// choriaBin is this project's node binary (cmd/choria): server and broker.
	choriaBin string
	// mmsBin is this project's mms.
	mmsBin string
	// operatorBin is go-choria v0.29.4's stock choria, the operator's CLI (kv, req, machine
	// watch) against the v0.30.2 broker and servers, as in a fleet in the middle of an upgrade;
	// it is also the v0.29.4 node of the migration tests.
	operatorBin string
	// stock030Bin is a stock go-choria v0.30.2 node, for migration from its plugins manager.
	stock030Bin string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped with -short (builds choria and starts a broker and servers)")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mms-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	touchSources()
	choriaBin = filepath.Join(dir, "choria")
	mmsBin = filepath.Join(dir, "mms")
	for _, b := range []struct{ out, pkg string }{
		{choriaBin, "github.com/mms-io/mms/cmd/choria"},
		{mmsBin, "github.com/mms-io/mms/cmd/mms"},
	} {
		started := time.Now()
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n", b.pkg, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %.1fs\n", b.pkg, time.Since(started).Seconds())
	}
	for _, p := range []struct {
		bin  *string
		prog peer.Program
	}{{&operatorBin, peer.Choria029}, {&stock030Bin, peer.Choria030}} {
		started := time.Now()
		bin, err := peer.BuildBinary(p.prog, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		*p.bin = bin
		fmt.Fprintf(os.Stderr, "e2e: built the peer %s in %.1fs\n", p.prog.Name, time.Since(started).Seconds())
	}
	return m.Run()
}

// touchSources reads every Go file and go.mod of the module, so that go test's result cache,
// which tracks the files a test opens and not what the go build it runs reads, runs this suite
// again whenever the binaries it builds may have changed.
func touchSources() {
	root := peer.RepoRoot()
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			_, _ = os.ReadFile(path)
		}
		return nil
	})
}
