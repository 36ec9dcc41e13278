package machines

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// retiredPrefix makes the name a retired manager directory is renamed to before it is
// deleted: dot-prefixed, so Choria's loader stops seeing it at once, and in the form of the
// install package's old versions (.mms-old-<name>-<16 hex>), so that opening the machines
// directory removes it if a crash interrupts the deletion.
const retiredPrefix = ".mms-old-"

// retireGoChoriaManager removes <dir>/mm_<machine> when it is, at this moment, go-choria's
// rendering for machine: it checks again (the plan was made earlier), renames the directory to
// a dot-prefixed name in one rename(2) that never follows a symlink and never replaces
// anything, makes the rename durable, then deletes the renamed tree without following
// symlinks. A directory already gone is not an error. Choria's loader, which polls the
// machines directory every 10 s, then stops the manager machine.
func retireGoChoriaManager(dir, machine string) error {
	dirName := GoChoriaManagerDir(machine)
	fail := func(err error) error { return fmt.Errorf("retire %s: %w", filepath.Join(dir, dirName), err) }
	mgr, err := FindGoChoriaManager(dir, machine)
	if err != nil {
		return fail(err)
	}
	if mgr == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fail(err)
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return fail(err)
	}
	defer d.Close()
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix) // crypto/rand.Read never fails on Linux
	old := retiredPrefix + dirName + "-" + hex.EncodeToString(suffix)
	if err := renameNoReplace(d, dirName, old); err != nil {
		return fail(err)
	}
	if err := d.Sync(); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", dir, err))
	}
	// os.Root.RemoveAll removes a symlink itself, never what it points to.
	if err := root.RemoveAll(old); err != nil {
		return fail(fmt.Errorf("delete %s (renamed from %s; removed when mms next opens the directory): %w", old, dirName, err))
	}
	return nil
}

// renameNoReplace renames the single component from to to inside the directory d, failing
// when to exists. Neither name is followed when it is a symlink.
func renameNoReplace(d *os.File, from, to string) error {
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			rerr = unix.Renameat2(int(fd), from, int(fd), to, unix.RENAME_NOREPLACE)
			if rerr != unix.EINTR {
				break
			}
		}
	}); err != nil {
		return err
	}
	if rerr != nil {
		return &os.LinkError{Op: "renameat2", Old: from, New: to, Err: rerr}
	}
	return nil
}
