package install

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// resolvePending decides, for each operation a crash left unfinished, whether it happened,
// by comparing the inode at <name> with the one the intent recorded (see the package doc).
func (s *Store) resolvePending() error {
	if len(s.rec.Pending) == 0 {
		return nil
	}
	rec := s.rec.clone()
	for name, in := range rec.Pending {
		ino, err := inode(s.root, name)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("resolve unfinished %s of %q: %w", in.Op, name, err)
		}
		switch in.Op {
		case OpInstall:
			if exists && ino == in.Inode {
				rec.Machines[name] = in.Machine
			}
		case OpRemove:
			if !exists || ino != in.Inode {
				delete(rec.Machines, name)
			}
		}
		delete(rec.Pending, name)
	}
	if err := s.save(rec); err != nil {
		return err
	}
	s.rec = rec
	return nil
}

// clean removes the staging and old directories a crash left in the machines directory, and
// renameio's temporary files in .mms; nothing else.
func (s *Store) clean() error {
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	for _, e := range entries {
		if !isMMSName(e.Name()) {
			continue
		}
		if err := s.root.RemoveAll(e.Name()); err != nil {
			return fmt.Errorf("clean %s: %w", filepath.Join(s.dir, e.Name()), err)
		}
		s.cleaned = append(s.cleaned, e.Name())
	}
	entries, err = fs.ReadDir(s.state.FS(), ".")
	if err != nil {
		return fmt.Errorf("clean: %w", err)
	}
	for _, e := range entries {
		if !isRenameioTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if err := s.state.Remove(e.Name()); err != nil {
			return fmt.Errorf("clean %s: %w", filepath.Join(s.dir, stateDirName, e.Name()), err)
		}
		s.cleaned = append(s.cleaned, filepath.Join(stateDirName, e.Name()))
	}
	if len(s.cleaned) > 0 {
		if err := syncDir(s.root, "."); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
	}
	return nil
}
