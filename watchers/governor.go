package watchers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errGovernor means a slot in an entry's governor could not be obtained in time.
var errGovernor = errors.New("governor refused")

// enterer obtains a slot in a Choria governor; the base watcher's EnterGovernor is one.
type enterer func(ctx context.Context, governor string, timeout time.Duration) (func() error, error)

// governorFunc returns the function the core calls before downloading an entry that names a
// governor: it waits at most timeout for a slot, and the returned release gives the slot back.
// Failing to obtain a slot fails that entry only.
func governorFunc(enter enterer, timeout time.Duration, warnf func(format string, args ...any)) func(ctx context.Context, name, governor string) (func(), error) {
	return func(ctx context.Context, name, governor string) (func(), error) {
		finish, err := enter(ctx, governor, timeout)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %q: governor %q: no slot within %v: %w", errGovernor, name, governor, timeout, err)
		}
		return func() {
			if err := finish(); err != nil {
				warnf("entry %q: could not leave governor %q: %v", name, governor, err)
			}
		}, nil
	}
}
