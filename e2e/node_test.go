package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// machineDir is where machine name lives on the node.
func (n *node) machineDir(name string) string {
	return filepath.Join(n.machines, name)
}

// installedVersion returns the version in the installed machine.yaml of name, "" when none.
func (n *node) installedVersion(name string) string {
	return yamlVersion(filepath.Join(n.machineDir(name), "machine.yaml"))
}

func yamlVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "version: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// verifySums checks every file SHA256SUMS in dir lists, as an operator would with sha256sum -c.
func verifySums(dir string) error {
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return err
	}
	defer f.Close()
	listed := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			return fmt.Errorf("SHA256SUMS line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(file, "*")))
		if err != nil {
			return err
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			return fmt.Errorf("%s: sha256 %x, SHA256SUMS says %s", file, got, sum)
		}
		listed++
	}
	if listed == 0 {
		return fmt.Errorf("SHA256SUMS in %s lists no file", dir)
	}
	return sc.Err()
}

// snapshot describes every machine under the node's machines directory, so that two snapshots
// are equal exactly when no machine changed. It leaves out what is not a machine: mms's own
// records (.mms, whose accepted version rightly grows when a specification is accepted with a
// failed entry), the compiled-in manager and the hand-placed repairer and keyringed machines,
// and the data files Choria writes while machines run.
func (n *node) snapshot() (string, error) {
	return snapshotDir(n.machines, "machines_manager", "repairer", "keyringed")
}

// snapshotDir lists every file of the machines in root with its sha256, leaving out mms's own
// records (dot directories), the machines named in skip, and the data files Choria writes.
func snapshotDir(root string, skip ...string) (string, error) {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		if slices.Contains(skip, top) || strings.HasPrefix(top, ".") || d.Name() == "machine_data.json" {
			return nil
		}
		if d.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n"), err
}

// logContains tells whether the node's Choria log holds a line containing every one of parts.
func (n *node) logContains(parts ...string) bool {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// machineState is one running machine as choria_util#machine_states reports it.
type machineState struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	State   string `json:"state"`
}

// machineStates asks the node, over RPC to its choria_util agent, which machines run.
func (c *cluster) machineStates(identity string) (map[string]machineState, error) {
	out, err := c.choria(nil, "req", "choria_util", "machine_states", "-I", identity, "--json")
	if err != nil {
		return nil, err
	}
	var res struct {
		Replies []struct {
			Sender     string `json:"sender"`
			Statuscode int    `json:"statuscode"`
			Statusmsg  string `json:"statusmsg"`
			Data       struct {
				States map[string]machineState `json:"states"`
			} `json:"data"`
		} `json:"replies"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("machine_states on %s: %w: %s", identity, err, out)
	}
	if len(res.Replies) != 1 || res.Replies[0].Statuscode != 0 {
		return nil, fmt.Errorf("machine_states on %s: %s", identity, out)
	}
	states := map[string]machineState{}
	for _, s := range res.Replies[0].Data.States {
		states[s.Name] = s
	}
	return states, nil
}

// transition asks the node, over RPC, to fire a transition of a machine.
func (c *cluster) transition(identity, machine, transition string) error {
	out, err := c.choria(nil, "req", "choria_util", "machine_transition", "name="+machine, "transition="+transition, "-I", identity, "--json")
	if err != nil {
		return err
	}
	var res struct {
		Replies []struct {
			Statuscode int `json:"statuscode"`
		} `json:"replies"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Replies) != 1 || res.Replies[0].Statuscode != 0 {
		return fmt.Errorf("transition %s of %s on %s: %s", transition, machine, identity, out)
	}
	return nil
}

// logCount counts the lines of the node's Choria log that contain s.
func (n *node) logCount(s string) int {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}
