package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binaries built once per run from the working tree, by TestMain.
var (
	choriaBin string
	mmsBin    string
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
	return m.Run()
}
