package watchers

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// dataItemCheckInterval is how often the watcher looks at its data item for a new
// specification. Machine data offers no change notification; a look is a map lookup and at
// most one JSON encoding of the envelope, so a new specification that Choria's kv watcher
// stores is reconciled within a second rather than at the next interval tick.
const dataItemCheckInterval = time.Second

// watchDataItem pokes the reconcile loop whenever the data item holds something other than
// it held at the last look, until ctx ends or the watcher is deleted. seen and seenErr are what
// it held when the watcher started, which the start reconcile answers.
func (w *Watcher) watchDataItem(ctx context.Context, wg *sync.WaitGroup, seen []byte, seenErr error) {
	defer wg.Done()

	tick := time.NewTicker(dataItemCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.terminate:
			return
		case <-tick.C:
		}
		env, _, err := w.envelope()
		if bytes.Equal(env, seen) && sameError(err, seenErr) {
			continue
		}
		seen, seenErr = env, err
		switch {
		case err != nil:
			w.Warnf("Specification data item %q changed to something that is not a specification: %v", w.settings.DataItem, err)
		case env == nil:
			w.Warnf("Specification data item %q was removed: keeping every machine as it is", w.settings.DataItem)
		default:
			w.Infof("Specification data item %q changed", w.settings.DataItem)
		}
		w.poke(TriggerSpecification)
	}
}

// sameError tells whether two looks at the data item failed alike (or both succeeded).
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}
