package install

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// MaxNameLength is the longest machine name accepted, in bytes.
const MaxNameLength = 128

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidName reports whether name may be a machine directory: it matches
// ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$, is not "tmp" and does not end in "-temp" (Choria's
// loader skips those names). The error wraps errs.ErrInvalidSpec.
func ValidName(name string) error {
	switch {
	case !namePattern.MatchString(name):
		return fmt.Errorf("%w: machine name %q: must match %s", errs.ErrInvalidSpec, name, namePattern)
	case name == "tmp":
		return fmt.Errorf("%w: machine name %q: Choria's loader skips a directory named tmp", errs.ErrInvalidSpec, name)
	case strings.HasSuffix(name, "-temp"):
		return fmt.Errorf("%w: machine name %q: Choria's loader skips directories ending in -temp", errs.ErrInvalidSpec, name)
	}
	return nil
}
