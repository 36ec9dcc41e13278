package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildinfo builds this command and runs `choria buildinfo` as an operator would.
func TestBuildinfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the choria binary")
	}
	bin := filepath.Join(t.TempDir(), "choria")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "buildinfo").CombinedOutput()
	if err != nil {
		t.Fatalf("choria buildinfo: %v\n%s", err, out)
	}
	info := string(out)

	for _, want := range []string{
		"Version: 0.30.2",
		"go-choria: github.com/choria-io/go-choria v0.30.2",
		"Embedded NATS Server Version: 2.14.2",
		"Machines Watcher version 0.30.2",
		"Machines_manager Autonomous Agent version 0.30.2",
		"Autonomous Agent Plugins Manager version 0.30.2",
		"Archive Watcher version 0.30.2",
		"Plugins Watcher version 0.30.2",
		"Kv Watcher version 0.30.2",
		"Ccm_manifest Watcher version 0.30.2",
		"Golang MCollective Agent Compatibility version 0.30.2",
	} {
		t.Run("lists "+want, func(t *testing.T) {
			if !strings.Contains(info, want) {
				t.Errorf("choria buildinfo does not say %q:\n%s", want, info)
			}
		})
	}
	t.Run("registers no watcher type twice, and no stale version", func(t *testing.T) {
		if strings.Count(info, "Machines Watcher version") != 1 {
			t.Errorf("more than one machines watcher:\n%s", info)
		}
		if strings.Contains(info, "0.29.4") {
			t.Errorf("says 0.29.4, the stale default of go-choria v0.30.2's build.Version:\n%s", info)
		}
	})

	t.Run("keeps a version set with -ldflags", func(t *testing.T) {
		stamped := filepath.Join(t.TempDir(), "choria")
		cmd := exec.Command("go", "build", "-o", stamped, "-ldflags", "-X github.com/choria-io/go-choria/build.Version=9.9.9", ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(stamped, "buildinfo").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Version: 9.9.9") || !strings.Contains(string(out), "Machines Watcher version 9.9.9") {
			t.Errorf("choria buildinfo of a stamped build: %v\n%s", err, out)
		}
	})

	t.Run("has no operator commands, and says where they are", func(t *testing.T) {
		out, err := exec.Command(bin, "kv", "put", "X", "y", "z").CombinedOutput()
		if err == nil {
			t.Fatalf("choria kv put ran:\n%s", out)
		}
		help, _ := exec.Command(bin, "--help").CombinedOutput()
		if !strings.Contains(string(help), "Operator commands") {
			t.Errorf("--help does not say where operator commands are:\n%s", help)
		}
	})

	t.Run("refuses server run without a configuration file", func(t *testing.T) {
		out, err := exec.Command(bin, "server", "run").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--config") {
			t.Errorf("server run without --config: %v\n%s", err, out)
		}
	})
}
