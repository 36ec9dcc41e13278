package install

import (
	"errors"
	"fmt"
	"github.com/mms-io/mms/machines/spec"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/mms-io/mms/machines/errs"
)

// Remove purges the managed machine name: it renames <machinesdir>/<name> out of the way to a
// dot-prefixed .mms-old-<name>-<random> (Choria's loader stops seeing it at once), drops the
// record entry, then deletes the renamed tree. A machine mms does not manage is refused with
// an error wrapping errs.ErrNotManaged, and nothing is touched. A managed machine already gone
// is simply dropped from the record. A symlink planted at <name> is removed, never followed.
func (s *Store) Remove(name string) error {
	if err := spec.ValidName(name); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	fail := func(err error) error { return fmt.Errorf("remove %q: %w", name, err) }
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return fail(err)
	}
	m, managed := s.rec.Machines[name]
	if !managed {
		return fail(fmt.Errorf("%w: %s was not installed by mms", errs.ErrNotManaged, filepath.Join(s.dir, name)))
	}
	ino, err := inode(s.root, name)
	if errors.Is(err, fs.ErrNotExist) {
		rec := s.rec.clone()
		delete(rec.Machines, name)
		if err := s.save(rec); err != nil {
			return fail(err)
		}
		s.rec, s.dirty = rec, false
		return nil
	}
	if err != nil {
		return fail(err)
	}

	rec := s.rec.clone()
	rec.Pending[name] = Intent{Op: OpRemove, Inode: ino, Machine: m}
	if err := s.save(rec); err != nil {
		return fail(err)
	}
	s.rec = rec // the record in memory always mirrors the one on disk, intents included
	step(stepRemoveIntent)

	old := mmsName(oldPrefix, name)
	if err := renameat2(s.dirFile, name, s.dirFile, old, unix.RENAME_NOREPLACE); err != nil {
		return fail(s.dropIntent(name, err))
	}
	step(stepRemoveRenamed)
	if err := syncDir(s.root, "."); err != nil {
		return fail(err) // the intent resolves it at the next Open
	}

	rec = s.rec.clone()
	delete(rec.Machines, name)
	delete(rec.Pending, name)
	s.rec = rec
	if err := s.saveResolving(rec); err != nil {
		s.dirty = true
		return fail(err)
	}
	s.dirty = false
	step(stepRemoveRecorded)

	// os.Root.RemoveAll removes a symlink itself, never what it points to. A failure leaves a
	// dot-prefixed directory that the next Open removes.
	_ = s.root.RemoveAll(old)
	_ = s.dropPrevious(name)
	return nil
}
