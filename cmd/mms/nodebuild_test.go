package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeBuild builds mms with -tags mms_node, the build for nodes that leaves out what
// links go-choria (the machine check of mms archive, --choria-config), and checks that it says
// what it is and refuses those two clearly, while the node's own commands are there.
func TestNodeBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mms")
	}
	bin := filepath.Join(t.TempDir(), "mms-node")
	if out, err := exec.Command("go", "build", "-tags", "mms_node", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags mms_node: %v\n%s", err, out)
	}
	deps, err := exec.Command("go", "list", "-tags", "mms_node", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(deps), "github.com/choria-io/go-choria/") {
		t.Error("the node build links go-choria")
	}
	dir := t.TempDir()
	run := func(args ...string) result { return runCmd(t, bin, dir, nil, nil, args...) }
	if r := run("version"); r.code != 0 || !strings.Contains(r.stdout, "node build, without go-choria") {
		t.Errorf("version: %+v", r)
	}
	if err := os.Mkdir(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeText(t, filepath.Join(dir, "web", "machine.yaml"), choriaMachine("web"))
	if r := run("archive", "web"); r.code != 1 || !strings.Contains(r.stderr, "node build") {
		t.Errorf("archive in a node build: %+v", r)
	}
	writeFile(t, dir, "client.conf", "")
	if r := run("get", "--choria-config", "client.conf"); r.code != 2 || !strings.Contains(r.stderr, "node build") {
		t.Errorf("--choria-config in a node build: %+v", r)
	}
	for _, cmd := range []string{"agent", "apply", "status", "put", "get"} {
		if r := run(cmd, "--help"); r.code != 0 {
			t.Errorf("%s --help: %+v", cmd, r)
		}
	}
}
