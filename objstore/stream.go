package objstore

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/fetch"
)

// copyBufferSize is the buffer one attempt streams the object through.
const copyBufferSize = 256 << 10 // 256 KiB

// stream opens the object and copies it into w and h, passing on at most MaxBytes. Opening
// (nats.go reads the info again and creates a consumer) is bounded by ConnectTimeout; the
// copy by ctx. Losing the connection mid-stream fails the attempt at once, as a dropped HTTP
// body does: it is retried, from the start, when w can be rewound.
//
// nats.go's reader blocks in Read, holding the lock Close needs, until a chunk arrives or
// ctx's deadline passes, so a reader goroutine does the reading and this one waits for it,
// the connection's status and ctx together: a cancellation or a lost connection returns at
// once. The goroutine ends when its Read does (at the latest at ctx's deadline); only this
// one writes to w, and never after returning.
func (f *Fetcher) stream(ctx context.Context, obs jetstream.ObjectStore, ref Ref, want string, w io.Writer, h hash.Hash) outcome {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lost chan nats.Status
	if nc := f.js.Conn(); nc != nil {
		lost = nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
		defer nc.RemoveStatusListener(lost)
	}
	rd := &reader{
		buf:    make([]byte, copyBufferSize),
		opened: make(chan opened),
		pieces: make(chan piece),
		next:   make(chan struct{}),
		stop:   make(chan struct{}),
	}
	defer close(rd.stop)
	go rd.run(actx, obs, ref.Name)

	timer := time.NewTimer(f.opts.ConnectTimeout)
	defer timer.Stop()
	var info *jetstream.ObjectInfo
	select {
	case o := <-rd.opened:
		if o.err != nil {
			retry, reason := classify(f.js, ref, fmt.Sprintf("open object %q", ref.Name), o.err)
			return outcome{reason: reason, retry: retry}
		}
		info = o.info
	case <-timer.C:
		retry, reason := classify(f.js, ref, fmt.Sprintf("open object %q", ref.Name), fmt.Errorf("not open within %s: %w", f.opts.ConnectTimeout, nats.ErrTimeout))
		return outcome{reason: reason, retry: retry}
	case s := <-lost:
		return connectionLost(0, s)
	case <-ctx.Done():
		return outcome{reason: ctx.Err()}
	}
	// nats.go read the info again: the object may have changed since the lookup
	if err := f.admit(info, want); err != nil {
		return outcome{reason: err}
	}
	if st, ok := w.(fetch.SizeTaker); ok {
		st.ExpectSize(int64(info.Size))
	}

	var n int64
	left := f.opts.MaxBytes
	for {
		select {
		case p := <-rd.pieces:
			// a piece that was ready together with the end of ctx or the connection's loss
			// is not used: select would pick among them at random
			if err := ctx.Err(); err != nil {
				return outcome{n: n, reason: err}
			}
			select {
			case s := <-lost:
				return connectionLost(n, s)
			default:
			}
			data := rd.buf[:p.n]
			over := int64(len(data)) > left
			if over {
				data = data[:left]
			}
			if len(data) > 0 {
				k, err := w.Write(data)
				h.Write(data[:k])
				n += int64(k)
				left -= int64(k)
				if err == nil && k < len(data) {
					err = io.ErrShortWrite
				}
				if err != nil {
					return outcome{n: n, reason: fmt.Errorf("writing the object: %w", err)}
				}
			}
			switch {
			case over:
				return outcome{n: n, reason: fetch.BytesLimit(f.opts.MaxBytes, "the object's content")}
			case p.err == io.EOF:
				return outcome{n: n}
			case errors.Is(p.err, jetstream.ErrDigestMismatch):
				return outcome{n: n, storeMismatch: true}
			case errors.Is(p.err, os.ErrDeadlineExceeded):
				// nats.go's read deadline is ctx's, and its Read can notice it first
				return readDeadline(ctx, n, p.err)
			case p.err != nil:
				return outcome{n: n, reason: fmt.Errorf("reading the object: %w", p.err), retry: true}
			}
			rd.next <- struct{}{}
		case s := <-lost:
			return connectionLost(n, s)
		case <-ctx.Done():
			return outcome{n: n, reason: ctx.Err()}
		}
	}
}

// readDeadline is the outcome when nats.go's Read passed its deadline, which is ctx's: the
// timeout or cancellation of ctx, which is about to show.
func readDeadline(ctx context.Context, n int64, err error) outcome {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return outcome{n: n, reason: ctx.Err()}
	case <-t.C:
		return outcome{n: n, reason: fmt.Errorf("reading the object: %w", err), retry: true}
	}
}

// connectionLost is the outcome when the connection's status became s mid-attempt: worth
// another try once it reconnects, unless it is closed for good.
func connectionLost(n int64, s nats.Status) outcome {
	if s == nats.CLOSED {
		return outcome{n: n, reason: fmt.Errorf("reading the object: %w (a closed NATS connection never reopens)", nats.ErrConnectionClosed)}
	}
	return outcome{n: n, reason: fmt.Errorf("reading the object: lost the connection to the NATS server (%s)", s), retry: true}
}

// reader reads one object in its own goroutine, handing each piece over and waiting until it
// has been used before reading the next into the same buffer.
type reader struct {
	buf    []byte
	opened chan opened
	pieces chan piece
	next   chan struct{}
	// stop is closed when the attempt ends, whatever the reader is waiting for.
	stop chan struct{}
}

// opened is the result of opening the object: the info nats.go read, or why it could not.
type opened struct {
	info *jetstream.ObjectInfo
	err  error
}

// piece is one Read: buf[:n] and its error.
type piece struct {
	n   int
	err error
}

func (rd *reader) run(ctx context.Context, obs jetstream.ObjectStore, name string) {
	r, err := obs.Get(ctx, name)
	var info *jetstream.ObjectInfo
	if err == nil {
		defer r.Close()
		info, err = r.Info()
	}
	select {
	case rd.opened <- opened{info: info, err: err}:
	case <-rd.stop:
		return
	}
	if err != nil {
		return
	}
	for {
		n, err := r.Read(rd.buf)
		select {
		case rd.pieces <- piece{n: n, err: err}:
		case <-rd.stop:
			return
		}
		if err != nil {
			return
		}
		select {
		case <-rd.next:
		case <-rd.stop:
			return
		}
	}
}
