package kvspec

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Pump delivers, until ctx ends or w stops, what read makes of each entry w tells of (those it
// says no to are skipped; so is the nil that marks the end of the initial values), and stops w
// when it returns. The channel closes then.
func Pump[T any](ctx context.Context, w jetstream.KeyWatcher, read func(jetstream.KeyValueEntry) (T, bool)) <-chan T {
	out := make(chan T, 64)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				v, ok := read(e)
				if !ok {
					continue
				}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
