package install

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

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
		holder := readHolder(f)
		f.Close()
		return fmt.Errorf("%w: %s holds %s", ErrLocked, holder, filepath.Join(s.dir, stateDirName, lockFileName))
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("flock %s: %w", filepath.Join(s.dir, stateDirName, lockFileName), err)
	}
	// Say who holds it, for the next process that is refused; a failure to say is no failure
	// to hold.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(Holder()+"\n"), 0)
	}
	s.lock = f
	return nil
}

// maxHolderBytes bounds what is read of a lock file's holder line.
const maxHolderBytes = 256

// Holder describes this process as a lock's holder: its pid and command, such as
// "pid 4242 (mms agent)". Arguments after the command are left out: they may name files an
// operator would rather not show.
func Holder() string {
	cmd := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		cmd += " " + os.Args[1]
	}
	return fmt.Sprintf("pid %d (%s)", os.Getpid(), cmd)
}

// readHolder returns the holder line of a lock file held by another process, or "another mms
// process" when it says nothing readable.
func readHolder(f *os.File) string {
	buf := make([]byte, maxHolderBytes)
	n, _ := f.ReadAt(buf, 0)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	line = strings.TrimSpace(line)
	if line == "" || !utf8.ValidString(line) || strings.ContainsFunc(line, unicode.IsControl) {
		return "another mms process"
	}
	return line
}
