package machines

import (
	"fmt"

	"github.com/mms-io/mms/machines/install"
)

// retireGoChoriaManager removes <dir>/mm_<machine> through st when it is, at this moment,
// go-choria's rendering for machine: st checks again just before it acts (the plan was made
// earlier), renames the directory out of Choria's sight in one rename that never follows a
// symlink, makes that durable, and deletes it. A directory already gone is not an error.
// Choria's loader, which polls the machines directory every 10 s, then stops the manager.
func retireGoChoriaManager(st *install.Store, machine string) error {
	return st.RemoveUnmanaged(GoChoriaManagerDir(machine), func() error {
		mgr, err := FindGoChoriaManager(st.Dir(), machine)
		if err == nil && mgr == nil {
			return fmt.Errorf("%w: %s is gone", ErrNotGoChoriaManager, GoChoriaManagerDir(machine))
		}
		return err
	})
}
