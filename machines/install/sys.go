package install

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// withFd runs fn with f's descriptor.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// syncDir fsyncs the directory name inside root.
func syncDir(root *os.Root, name string) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", d.Name(), err)
	}
	return nil
}

// inode returns the inode of name inside root, without following a symlink.
func inode(root *os.Root, name string) (uint64, error) {
	fi, err := root.Lstat(name)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no inode", name)
	}
	return st.Ino, nil
}

// renameat2 renames the single path component oldName in oldDir to newName in newDir with
// flags (unix.RENAME_EXCHANGE or unix.RENAME_NOREPLACE). Neither name is followed when it is
// a symlink.
func renameat2(oldDir *os.File, oldName string, newDir *os.File, newName string, flags uint) error {
	return withFd(oldDir, func(ofd int) error {
		return withFd(newDir, func(nfd int) error {
			for {
				err := unix.Renameat2(ofd, oldName, nfd, newName, flags)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					return &os.LinkError{Op: "renameat2", Old: oldName, New: newName, Err: err}
				}
				return nil
			}
		})
	})
}
