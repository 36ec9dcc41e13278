package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mms-io/mms/machines/spec"
)

// prevPrefix names the one kept previous version of a machine: .mms-prev-<name>, beside the
// machines, so that a revert is one rename on the same filesystem.
const prevPrefix = ".mms-prev-"

// ErrNoPrevious means no previous version of a machine is kept, so there is nothing to revert to.
var ErrNoPrevious = errors.New("no previous version kept")

// Previous is the version of a machine that CommitKeepingPrevious replaced, kept whole in
// .mms-prev-<name> so that Revert can swap it back without a download.
type Previous struct {
	// Machine is what the record said of that version while it was installed.
	Machine Managed `json:"machine"`
	// Inode is the inode of its tree's root: Open keeps the entry only while
	// .mms-prev-<name> carries it.
	Inode uint64 `json:"inode"`
}

// prevName is where the previous version of name is kept.
func prevName(name string) string { return prevPrefix + name }

// isPrevName reports whether entry is .mms-prev-<valid name>, and returns the name.
func isPrevName(entry string) (string, bool) {
	name, ok := strings.CutPrefix(entry, prevPrefix)
	return name, ok && spec.ValidName(name) == nil
}

// Previous returns the kept previous version of name, when there is one.
func (s *Store) Previous(name string) (Managed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.rec.Previous[name]
	return p.Machine.clone(), ok
}

// PreviousPath is where the previous version of name is kept (whether or not it is).
func (s *Store) PreviousPath(name string) string { return filepath.Join(s.dir, prevName(name)) }

// movePrevious moves the version Commit just swapped out, at <staging>/<name> (stageDir),
// to .mms-prev-<name>, where the record already names it. The caller holds s.mu and has
// discarded any tree kept before.
func (s *Store) movePrevious(stageDir *os.Root, name string) error {
	stageFile, err := stageDir.Open(".")
	if err != nil {
		return err
	}
	defer stageFile.Close()
	return renameat2(stageFile, name, s.dirFile, prevName(name), unix.RENAME_NOREPLACE)
}

// discardPreviousTree deletes .mms-prev-<name>, when it exists: renamed out of the way first,
// so that a crash mid-delete leaves a .mms-old directory Open removes, not half a tree that
// could be mistaken for a version. The caller holds s.mu.
func (s *Store) discardPreviousTree(name string) error {
	if _, err := s.root.Lstat(prevName(name)); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	old := mmsName(oldPrefix, name)
	if err := renameat2(s.dirFile, prevName(name), s.dirFile, old, unix.RENAME_NOREPLACE); err != nil {
		return err
	}
	_ = s.root.RemoveAll(old)
	return nil
}

// dropPrevious forgets and deletes the kept previous version of name. The caller holds s.mu.
func (s *Store) dropPrevious(name string) error {
	if _, ok := s.rec.Previous[name]; ok {
		rec := s.rec.clone()
		delete(rec.Previous, name)
		if err := s.saveResolving(rec); err != nil {
			return err
		}
		s.rec = rec
	}
	return s.discardPreviousTree(name)
}

// Revert swaps the previous version of the managed machine name, kept by CommitKeepingPrevious,
// back into <name> and deletes the version it replaces; it returns the record of the version now
// installed. The caller verifies the kept tree first (PreviousPath). The swap is a Commit's: an
// intent, one renameat2(RENAME_EXCHANGE), an fsync, the record; a crash at any point leaves the
// version that was installed or the previous one, complete, and Open resolves which. Without a
// kept version the error wraps ErrNoPrevious and nothing changes.
func (s *Store) Revert(name string) (Managed, error) {
	if err := spec.ValidName(name); err != nil {
		return Managed{}, fmt.Errorf("revert: %w", err)
	}
	fail := func(err error) (Managed, error) { return Managed{}, fmt.Errorf("revert %q: %w", name, err) }
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return fail(err)
	}
	p, ok := s.rec.Previous[name]
	if !ok {
		return fail(ErrNoPrevious)
	}
	if ino, err := inode(s.root, prevName(name)); err != nil || ino != p.Inode {
		_ = s.dropPrevious(name)
		return fail(fmt.Errorf("%w: %s is not the version recorded", ErrNoPrevious, s.PreviousPath(name)))
	}
	_, err := s.root.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if _, managed := s.rec.Machines[name]; exists && !managed {
		return fail(fmt.Errorf("%s exists and mms did not install it", filepath.Join(s.dir, name)))
	}

	m := p.Machine.clone()
	rec := s.rec.clone()
	rec.Pending[name] = Intent{Op: OpInstall, Inode: p.Inode, Machine: m}
	if err := s.save(rec); err != nil {
		return fail(err)
	}
	s.rec = rec
	step(stepRevertIntent)

	flags := uint(unix.RENAME_NOREPLACE)
	if exists {
		flags = unix.RENAME_EXCHANGE
	}
	if err := renameat2(s.dirFile, prevName(name), s.dirFile, name, flags); err != nil {
		return fail(s.dropIntent(name, err))
	}
	step(stepRevertSwapped)
	if err := syncDir(s.root, "."); err != nil {
		return fail(err) // the intent resolves it at the next Open
	}

	rec = s.rec.clone()
	delete(rec.Pending, name)
	delete(rec.Previous, name)
	rec.Machines[name] = m
	s.rec = rec
	if err := s.saveResolving(rec); err != nil {
		s.dirty = true
		return fail(err)
	}
	s.dirty = false
	step(stepRevertRecorded)
	// .mms-prev-<name> now holds the version reverted from.
	_ = s.discardPreviousTree(name)
	return m.clone(), nil
}

// checkPrevious drops, after a crash, the record of a previous version whose tree is not at
// .mms-prev-<name> (a keep or a revert was interrupted) or whose machine is no longer
// managed, and deletes every .mms-prev-<name> the record does not name. Open calls it once
// the intents are resolved.
func (s *Store) checkPrevious() error {
	rec := s.rec.clone()
	changed := false
	for name, p := range rec.Previous {
		ino, err := inode(s.root, prevName(name))
		_, managed := rec.Machines[name]
		if err != nil || ino != p.Inode || !managed {
			delete(rec.Previous, name)
			changed = true
		}
	}
	if changed {
		if err := s.save(rec); err != nil {
			return err
		}
		s.rec = rec
	}
	entries, err := fs.ReadDir(s.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("check previous versions: %w", err)
	}
	for _, e := range entries {
		name, ok := isPrevName(e.Name())
		if _, kept := s.rec.Previous[name]; !ok || kept {
			continue
		}
		if err := s.discardPreviousTree(name); err != nil {
			return fmt.Errorf("clean %s: %w", s.PreviousPath(name), err)
		}
		s.cleaned = append(s.cleaned, e.Name())
	}
	return nil
}
