package install

import (
	"errors"
	"fmt"
	"github.com/mms-io/mms/machines/spec"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mms-io/mms/machines/errs"
)

// Commit swaps the machine staged in st.Path(), which the caller has verified, into
// <machinesdir>/<name>, and records m (m.Name must be empty or the staged name; InstalledAt is
// set to now). When <name> exists it must be recorded as managed (else the error wraps
// errs.ErrNotManaged and nothing changes: a hand-placed machine is never replaced unless the
// caller adopted it first); it is exchanged atomically with the new tree and then deleted.
// The package doc gives the order of the steps and why a crash at any of them leaves either
// the complete old or the complete new version. st is used up when Commit succeeds; after a
// failure the caller still Discards it. A previous version kept for name is dropped: it is no
// longer the one before.
func (s *Store) Commit(st *Staging, m Managed) error { return s.commit(st, m, false) }

// CommitKeepingPrevious is Commit that keeps the version it replaces, whole, for Revert (a
// staged rollout may take the new one back), in place of any kept before. Keeping is best
// effort: when it fails the install still stands and Previous says nothing is kept.
func (s *Store) CommitKeepingPrevious(st *Staging, m Managed) error { return s.commit(st, m, true) }

func (s *Store) commit(st *Staging, m Managed, keep bool) error {
	if st == nil || st.store != s {
		return errors.New("commit: staging does not belong to this store")
	}
	name := st.name
	if err := spec.ValidName(name); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("commit %q: %w", name, err) }
	if m.Name == "" {
		m.Name = name
	}
	if m.Name != name {
		return fail(fmt.Errorf("%w: record names %q", errs.ErrInvalidSpec, m.Name))
	}
	if st.done {
		return fail(errors.New("staging already committed or discarded"))
	}

	stageDir, err := s.root.OpenRoot(st.entry)
	if err != nil {
		return fail(err)
	}
	defer stageDir.Close()
	fi, err := stageDir.Lstat(name)
	if err != nil {
		return fail(err)
	}
	if !fi.IsDir() {
		return fail(fmt.Errorf("%w: %s is a %s, not a directory", errs.ErrUnsafeArchive, st.Path(), fi.Mode().Type()))
	}
	// 1. Make the new tree durable before anything can point at it (done unlocked: it is the
	// slow part). syncTree flushes the whole filesystem, the staging and machines directories
	// included, which sit on it.
	if err := syncTree(stageDir, name); err != nil {
		return fail(err)
	}
	step(stepCommitSynced)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fail(ErrClosed)
	}
	_, err = s.root.Lstat(name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if _, managed := s.rec.Machines[name]; exists && !managed {
		return fail(fmt.Errorf("%w: %s exists and mms did not install it", errs.ErrNotManaged, filepath.Join(s.dir, name)))
	}
	newIno, err := inode(stageDir, name)
	if err != nil {
		return fail(err)
	}
	m = m.clone()
	m.InstalledAt = time.Now().UTC()

	// 2. Say what is about to happen, so that Open can tell afterwards whether it did.
	rec := s.rec.clone()
	rec.Pending[name] = Intent{Op: OpInstall, Inode: newIno, Machine: m}
	if err := s.save(rec); err != nil {
		return fail(err)
	}
	s.rec = rec // the record in memory always mirrors the one on disk, intents included
	step(stepCommitIntent)

	// 3. Swap. Both names are single components relative to directory descriptors.
	stageFile, err := stageDir.Open(".")
	if err != nil {
		return fail(s.dropIntent(name, err))
	}
	flags := uint(unix.RENAME_NOREPLACE)
	if exists {
		flags = unix.RENAME_EXCHANGE
	}
	err = renameat2(stageFile, name, s.dirFile, name, flags)
	stageFile.Close()
	if err != nil {
		return fail(s.dropIntent(name, err))
	}
	step(stepCommitSwapped)

	// 4. Make the swap durable.
	if err := syncDir(s.root, "."); err != nil {
		// The swap happened; the intent stays, in memory and on disk, and the next Open resolves it.
		return fail(err)
	}
	step(stepCommitDirSynced)

	// 5. Record the new version in place of the intent, and, to keep the old one, the old one
	// as previous (by the inode of its tree, now in the staging directory: until step 6 moves
	// it to .mms-prev-<name>, Open finds no such tree there and forgets it).
	old, hadOld := s.rec.Machines[name]
	var prevIno uint64
	keep = keep && exists && hadOld
	if keep {
		if prevIno, err = inode(stageDir, name); err != nil {
			keep = false // the install goes on; nothing is kept
		}
	}
	rec = s.rec.clone()
	delete(rec.Pending, name)
	delete(rec.Previous, name)
	rec.Machines[name] = m
	if keep {
		rec.Previous[name] = Previous{Machine: old.clone(), Inode: prevIno}
	}
	s.rec = rec // the tree at <name> is the truth now, whether or not the write below succeeds
	if err := s.saveResolving(rec); err != nil {
		s.dirty = true
		return fail(err)
	}
	s.dirty = false
	step(stepCommitRecorded)

	// 6. Keep the old version (moved to .mms-prev-<name>, in place of any kept before) or
	// delete it. A failure leaves a dot-prefixed directory that the next Open removes, and
	// only loses the previous version; the install itself succeeded.
	_ = s.discardPreviousTree(name)
	if keep {
		if err := s.movePrevious(stageDir, name); err != nil {
			_ = s.dropPrevious(name)
		}
	}
	_ = s.root.RemoveAll(st.entry)
	st.done = true
	return nil
}

// dropIntent removes the intent written for name after the operation failed before touching
// the machine, and returns cause.
func (s *Store) dropIntent(name string, cause error) error {
	rec := s.rec.clone()
	delete(rec.Pending, name)
	if err := s.save(rec); err != nil {
		// The intent stays; Open resolves it from the inode, which did not move.
		return errors.Join(cause, err)
	}
	s.rec = rec
	return cause
}
