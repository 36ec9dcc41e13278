package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// takeLock opens .mms/lock and takes an exclusive, non-blocking flock on it. The lock belongs
// to the open file description, so a second Store in the same process is refused too; the
// kernel releases it when the descriptor is closed or the process dies.
func (s *Store) takeLock() error {
	f, err := s.state.OpenFile(lockFileName, os.O_RDWR|os.O_CREATE, stateFileMode)
	if err != nil {
		return err
	}
	err = withFd(f, func(fd int) error {
		for {
			err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
			if err != unix.EINTR {
				return err
			}
		}
	})
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return fmt.Errorf("%w (%s is held)", ErrLocked, filepath.Join(s.dir, stateDirName, lockFileName))
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("flock %s: %w", filepath.Join(s.dir, stateDirName, lockFileName), err)
	}
	s.lock = f
	return nil
}
