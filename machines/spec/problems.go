package spec

import (
	"fmt"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// ValidationError lists every problem found in a specification, so that an operator fixes
// them all in one go. It matches errs.ErrInvalidSpec with errors.Is.
type ValidationError struct {
	// Problems holds one sentence per problem, each naming the entry and field.
	Problems []string
}

// Error joins the problems, one per line after the first.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("%s: %s", errs.ErrInvalidSpec, e.Problems[0])
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", errs.ErrInvalidSpec, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Is makes errors.Is(err, errs.ErrInvalidSpec) true.
func (e *ValidationError) Is(target error) bool { return target == errs.ErrInvalidSpec }
