package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MachineName is the name of the example machine, also its directory name once deployed.
const MachineName = "hello"

// Versions are the example machine's versions, in the order the demo deploys them.
var Versions = []string{"1.0.0", "1.0.1"}

// manifest is the machine.yaml of the example machine: every minute it runs greet.sh, and
// moves to the greeted state when that succeeds.
const manifest = `# An example Choria Autonomous Agent deployed by mms demo.
name: %[1]s
version: %[2]s
initial_state: unknown

transitions:
  - name: greeted
    from: [unknown, greeted]
    destination: greeted

watchers:
  - name: greet
    type: exec
    state_match: [unknown, greeted]
    success_transition: greeted
    interval: 1m
    properties:
      command: ./greet.sh
`

// script is greet.sh: it prints a greeting naming the version.
const script = `#!/bin/sh
echo "hello from the mms demo machine, version %[1]s"
`

// WriteMachine writes the example machine at version into the directory dir (created when
// missing): machine.yaml and greet.sh.
func WriteMachine(dir, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write example machine %s: %w", dir, err)
	}
	files := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"machine.yaml", fmt.Sprintf(manifest, MachineName, version), 0o644},
		{"greet.sh", fmt.Sprintf(script, version), 0o755},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("write example machine: %w", err)
		}
		if err := os.Chmod(path, f.mode); err != nil { // undo the umask
			return fmt.Errorf("write example machine: %w", err)
		}
	}
	return nil
}

// Version reads the version a deployed example machine in dir declares in its machine.yaml.
func Version(dir string) (string, error) {
	path := filepath.Join(dir, "machine.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s: no version line", path)
}
