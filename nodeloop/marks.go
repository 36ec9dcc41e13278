package nodeloop

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/renameio/v2"
)

// maxMarks bounds the changes remembered; the oldest seen are forgotten first.
const maxMarks = 256

// Mark is what a node remembers of one staged change: where it stands, and what it has told
// the gate (each counter once per change, also across restarts).
type Mark struct {
	Entry    string `json:"entry"`
	Checksum string `json:"checksum"`
	// Wave is the node's wave (0 for the first) of Waves.
	Wave  int `json:"wave"`
	Waves int `json:"waves"`
	// Seen is when the node first saw the change; InstalledAt when it took it.
	Seen        time.Time `json:"seen"`
	InstalledAt time.Time `json:"installed_at,omitzero"`
	// HealthyAt is when its health check first passed here.
	HealthyAt time.Time `json:"healthy_at,omitzero"`
	Phase     Phase     `json:"phase"`
	Reason    string    `json:"reason,omitempty"`
	// Final says nothing more will happen to it here.
	Final bool `json:"final,omitempty"`
	// What the node counted in the gate.
	Registered bool `json:"registered,omitempty"`
	Took       bool `json:"took,omitempty"`
	Healthy    bool `json:"healthy,omitempty"`
	Unhealthy  bool `json:"unhealthy,omitempty"`
	Reverted   bool `json:"reverted,omitempty"`
}

// Marks keeps the marks in one file, DIR/.mms/rollouts.json, replaced atomically.
type Marks struct {
	// Path is the file.
	Path string
}

// Load reads the marks; a missing file is none, an unreadable one is logged and taken for
// none (the node then counts itself again: the gate waits on it at most the quiet time).
func (m *Marks) Load(log *slog.Logger) map[string]Mark {
	data, err := os.ReadFile(m.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var out map[string]Mark
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		log.Error("could not read what this node told the rollout gate before; starting afresh", "file", m.Path, "error", err)
		return nil
	}
	return out
}

// Save writes marks, keeping the maxMarks seen last.
func (m *Marks) Save(marks map[string]Mark) error {
	if len(marks) > maxMarks {
		ids := make([]string, 0, len(marks))
		for id := range marks {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return marks[ids[i]].Seen.After(marks[ids[j]].Seen) })
		kept := make(map[string]Mark, maxMarks)
		for _, id := range ids[:maxMarks] {
			kept[id] = marks[id]
		}
		marks = kept
	}
	data, err := json.Marshal(marks)
	if err != nil {
		return err
	}
	// Replaced whole but not fsynced: written at every step of every staged change, and a
	// power loss that undoes a write only makes the node count itself again, which the gate
	// takes once (message IDs) within its duplicate window.
	t, err := renameio.TempFile(filepath.Dir(m.Path), m.Path)
	if err != nil {
		return fmt.Errorf("write %s: %w", m.Path, err)
	}
	defer t.Cleanup()
	if err := t.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", m.Path, err)
	}
	if _, err := t.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", m.Path, err)
	}
	if err := os.Rename(t.Name(), m.Path); err != nil {
		return fmt.Errorf("write %s: %w", m.Path, err)
	}
	return nil
}
