package watchers

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/mms-io/mms/nodeloop"
)

// dataItemCheckInterval is how often the watcher looks at its data item for a new
// specification. Machine data offers no change notification; a look is a map lookup and at
// most one JSON encoding of the envelope, so a new specification that Choria's kv watcher
// stores is reconciled within a second rather than at the next interval tick.
const dataItemCheckInterval = time.Second

// dataItemSource is the nodeloop.Source of a specification in machine data, as filled by
// Choria's `kv` watcher: it delivers what the item holds at once, then every change.
type dataItemSource struct {
	w    *Watcher
	item string
}

// Name implements nodeloop.Source.
func (s *dataItemSource) Name() string { return "data item " + s.item }

// Run implements nodeloop.Source.
func (s *dataItemSource) Run(ctx context.Context) <-chan nodeloop.Update {
	out := make(chan nodeloop.Update, 1)
	go func() {
		defer close(out)
		tick := time.NewTicker(dataItemCheckInterval)
		defer tick.Stop()
		var last *nodeloop.Update
		for {
			u := s.look()
			if last == nil || !bytes.Equal(u.Envelope, last.Envelope) || !sameError(u.Err, last.Err) {
				last = &u
				// The loop always receives; latest wins if it has not yet.
				select {
				case <-out:
				default:
				}
				out <- u
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// Current implements nodeloop.Current: the start reconcile answers what the item holds.
func (s *dataItemSource) Current() nodeloop.Update { return s.look() }

// look returns what the data item holds now.
func (s *dataItemSource) look() nodeloop.Update {
	v, ok := s.w.machine.DataGet(s.item)
	if !ok {
		return nodeloop.Update{}
	}
	env, err := envelopeFromData(v)
	if err != nil {
		return nodeloop.Update{Err: fmt.Errorf("data item %q: %w", s.item, err)}
	}
	return nodeloop.Update{Envelope: env}
}

// sameError tells whether two looks at the data item failed alike (or both succeeded).
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}
