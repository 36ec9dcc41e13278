package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// StateDirName is mms's directory inside a machines directory: the lock, the record, the last
// report and (for mms agent) the embedded NATS server's files.
const StateDirName = stateDirName

// ErrStateDir means DIR/.mms is not one mms may trust: a symlink, not a directory, not owned
// by the running user, or writable by others. Nothing is written through it.
var ErrStateDir = errors.New("unsafe mms state directory")

// StateDir returns DIR/.mms after creating it (0700) when missing and checking that it is
// mms's own: a real directory, owned by the user mms runs as, that no one else may write.
// Every path mms writes under .mms goes through it first.
func StateDir(machinesDir string) (string, error) {
	path := filepath.Join(machinesDir, stateDirName)
	if err := os.Mkdir(path, stateDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", path, err)
	}
	if err := checkStateDir(path, fi); err != nil {
		return "", err
	}
	return path, nil
}

// checkStateDir refuses a state directory mms may not trust, saying why and how to fix it.
func checkStateDir(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink: whoever placed it chooses where mms writes; remove it", ErrStateDir, path)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is a %s, not a directory", ErrStateDir, path, fi.Mode().Type())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by others (mode %04o): they could replace the record of what mms manages; chmod 700 %s", ErrStateDir, path, fi.Mode().Perm(), path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by uid %d that mms runs as; chown it or remove it", ErrStateDir, path, st.Uid, os.Geteuid())
	}
	return nil
}
