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
	if err := CheckStateDir(path, fi); err != nil {
		return "", err
	}
	return path, nil
}

// CheckStateDir refuses a directory of mms's state (DIR/.mms, or one inside it) that mms may
// not trust, fi being its Lstat: a symlink, not a directory, writable by others or owned by
// another user. The error matches ErrStateDir, says why and how to fix it.
func CheckStateDir(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink: whoever placed it chooses where mms writes; remove it", ErrStateDir, path)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is a %s, not a directory", ErrStateDir, path, fi.Mode().Type())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by others (mode %04o): they could replace what mms keeps there; chmod 700 %s", ErrStateDir, path, fi.Mode().Perm(), path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by uid %d that mms runs as; chown it or remove it", ErrStateDir, path, st.Uid, os.Geteuid())
	}
	return nil
}

// The files and directories mms keeps in DIR/.mms besides the lock and the record: each has
// its name here, so that install knows every path under .mms.
const (
	// LastReportName is the outcome of the last reconcile, for mms status.
	LastReportName = "last-report.json"
	// CredentialsName holds the credentials of mms agent's embedded NATS server (0600).
	CredentialsName = "nats-credentials.json"
	// NATSStoreName is the embedded NATS server's JetStream store.
	NATSStoreName = "nats"
	// RecordName is the record of what mms installed (state.json).
	RecordName = stateFileName
	// ArchiveCacheName is the directory of verified archives kept by checksum (0700), so that
	// a revert or a repair fetches nothing; package machines/cache owns what is inside.
	ArchiveCacheName = "archives"
	// KeyringName is the keyring the node reached, with the anchor that led to it; package
	// machines/keyring owns what is inside.
	KeyringName = "keyring.json"
)

// StatePath returns the path of name (one of the names above) in DIR/.mms, after StateDir has
// checked (and, when missing, created) DIR/.mms: the way every writer under .mms starts.
func StatePath(machinesDir, name string) (string, error) {
	dir, err := StateDir(machinesDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// StatePathFor returns where name is kept in DIR/.mms, without checking or creating anything:
// for readers, such as mms status, which must not create .mms.
func StatePathFor(machinesDir, name string) string {
	return filepath.Join(machinesDir, stateDirName, name)
}
