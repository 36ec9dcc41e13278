package demo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/choria-io/go-choria/aagent/machine"
)

func TestExampleMachine(t *testing.T) {
	for _, version := range Versions {
		t.Run("version "+version+" passes Choria's machine schema and declares its version", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), MachineName)
			if err := WriteMachine(dir, version); err != nil {
				t.Fatal(err)
			}
			problems, err := machine.ValidateDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) > 0 {
				t.Fatalf("machine.yaml does not validate: %v", problems)
			}
			got, err := Version(dir)
			if err != nil || got != version {
				t.Fatalf("Version = %q, %v; want %q", got, err, version)
			}
		})
	}

	t.Run("greet.sh runs and names its version", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), MachineName)
		if err := WriteMachine(dir, "9.9.9"); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("./greet.sh")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "version 9.9.9") {
			t.Fatalf("greet.sh: %v, %q", err, out)
		}
	})

	t.Run("Version refuses a machine.yaml without a version", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "machine.yaml"), []byte("name: x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Version(dir); err == nil {
			t.Fatal("no error")
		}
	})
}
