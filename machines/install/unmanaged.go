package install

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

// RemoveUnmanaged removes dirName, a directory of the machines directory that mms neither
// installed nor records (a go-choria manager machine it took over), after check, run just
// before, still approves it. It renames the directory in one renameat2(RENAME_NOREPLACE) that
// never follows a symlink to a dot-prefixed .mms-old-<dirName>-<random> (Choria's loader stops
// seeing it at once, and Open removes it if a crash interrupts the deletion), fsyncs the
// machines directory, then deletes the renamed tree without following symlinks. A directory
// already gone is not an error. A machine mms records is refused: Remove is for those.
func (s *Store) RemoveUnmanaged(dirName string, check func() error) error {
	fail := func(err error) error { return fmt.Errorf("remove %s: %w", filepath.Join(s.dir, dirName), err) }
	if err := spec.ValidName(dirName); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fail(ErrClosed)
	case s.readOnly:
		return fail(ErrReadOnly)
	}
	if _, managed := s.rec.Machines[dirName]; managed {
		return fail(fmt.Errorf("%w: %s is a machine mms manages", errs.ErrInvalidSpec, dirName))
	}
	if _, err := s.root.Lstat(dirName); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := check(); err != nil {
		return fail(err)
	}
	old := mmsName(oldPrefix, dirName)
	if err := renameat2(s.dirFile, dirName, s.dirFile, old, unix.RENAME_NOREPLACE); err != nil {
		return fail(err)
	}
	if err := syncDir(s.root, "."); err != nil {
		return fail(err)
	}
	if err := s.root.RemoveAll(old); err != nil {
		return fail(fmt.Errorf("delete %s (renamed from %s; removed when mms next opens the directory): %w", old, dirName, err))
	}
	return nil
}
