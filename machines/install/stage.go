package install

import (
	"errors"
	"fmt"
	"github.com/mms-io/mms/machines/spec"
	"io/fs"
	"path/filepath"
)

const (
	stageDirMode = 0o755
	// stageAttempts bounds the retries when a random staging name already exists.
	stageAttempts = 10
)

// Staging is a fresh dot-prefixed directory beside the machines, where one machine is unpacked
// and verified before Commit swaps it in.
type Staging struct {
	store *Store
	name  string // the machine name
	entry string // .mms-stage-<name>-<random>, in the machines directory
	done  bool   // committed or discarded
}

// Stage creates <machinesdir>/.mms-stage-<name>-<random> (mode 0755) for the machine name.
func (s *Store) Stage(name string) (*Staging, error) {
	if err := spec.ValidName(name); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	s.mu.Lock()
	closed, readOnly := s.closed, s.readOnly
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("stage %q: %w", name, ErrClosed)
	}
	if readOnly {
		return nil, fmt.Errorf("stage %q: %w", name, ErrReadOnly)
	}
	for range stageAttempts {
		entry := mmsName(stagePrefix, name)
		err := s.root.Mkdir(entry, stageDirMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stage %q: %w", name, err)
		}
		if err := s.root.Chmod(entry, stageDirMode); err != nil { // undo the umask
			_ = s.root.RemoveAll(entry)
			return nil, fmt.Errorf("stage %q: %w", name, err)
		}
		return &Staging{store: s, name: name, entry: entry}, nil
	}
	return nil, fmt.Errorf("stage %q: no free staging name after %d attempts", name, stageAttempts)
}

// Name is the machine name being staged.
func (st *Staging) Name() string { return st.name }

// Dir is the staging directory, where the caller unpacks the archive: it creates Dir()/<name>/.
func (st *Staging) Dir() string { return filepath.Join(st.store.dir, st.entry) }

// Path is the machine directory inside the staging directory: Dir()/<name>.
func (st *Staging) Path() string { return filepath.Join(st.store.dir, st.entry, st.name) }

// Discard removes the staging directory and everything in it. It does nothing after Commit or
// a previous Discard.
func (st *Staging) Discard() error {
	if st.done {
		return nil
	}
	if err := st.store.root.RemoveAll(st.entry); err != nil {
		return fmt.Errorf("discard %s: %w", st.Dir(), err)
	}
	st.done = true
	return nil
}
