package archive

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// checkName refuses a machine name that is not a single plain path element: it becomes the
// top-level directory of the archive and a directory name on disk. The stricter rules for entry
// names (characters, reserved names) belong to the specification.
func checkName(op, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) ||
		strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
		!filepath.IsLocal(name) {
		return fmt.Errorf("%s %q: %w: not a plain directory name", op, name, errs.ErrUnsafeArchive)
	}
	return nil
}
