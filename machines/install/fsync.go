package install

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"

	"github.com/mms-io/mms/machines/errs"
)

// syncTree fsyncs every regular file and directory under name inside root, directories after
// their contents, then root itself. Anything but a regular file or a directory is refused: the
// caller verified the tree, and a link or device here means it did not.
func syncTree(root *os.Root, name string) error {
	var dirs []string
	err := fs.WalkDir(root.FS(), name, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, p)
			return nil
		case d.Type().IsRegular():
			f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := f.Sync(); err != nil {
				return fmt.Errorf("fsync %s: %w", path.Join(root.Name(), p), err)
			}
			return nil
		default:
			return fmt.Errorf("%w: %s is a %s, not a regular file or directory", errs.ErrUnsafeArchive, path.Join(root.Name(), p), d.Type())
		}
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := syncDir(root, d); err != nil {
			return err
		}
	}
	return syncDir(root, ".")
}
