package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Inspect opens the record of machinesDir for reading only, for a preview (mms apply
// --dry-run): no lock is taken and nothing is created, cleaned, resolved or written, so a
// directory mms never touched stays untouched. Every method that would change something returns
// an error wrapping ErrReadOnly; unfinished operations a crash left are not resolved, so the
// record may lag what Open would make of it.
func Inspect(machinesDir string) (*Store, error) {
	root, err := os.OpenRoot(machinesDir)
	if err != nil {
		return nil, fmt.Errorf("inspect machines directory %s: %w", machinesDir, err)
	}
	s := &Store{dir: machinesDir, root: root, readOnly: true}
	state, err := root.OpenRoot(stateDirName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.rec = Record{Machines: map[string]Managed{}, Pending: map[string]Intent{}, Previous: map[string]Previous{}}
		return s, nil
	case err != nil:
		root.Close()
		return nil, fmt.Errorf("inspect machines directory %s: %w", machinesDir, err)
	}
	s.state = state
	if err := s.load(); err != nil {
		s.release()
		return nil, fmt.Errorf("inspect machines directory %s: %w", machinesDir, err)
	}
	return s, nil
}
