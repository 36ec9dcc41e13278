package machines

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/mms-io/mms/machines/sums"
)

// errUnpackStopped is what the reader of a stopped unpacking returns: the download it followed
// is rewound for a retry, failed, or is over.
var errUnpackStopped = errors.New("unpacking stopped: the download it followed was rewound or abandoned")

// tailUnpacker is the writer a Fetcher downloads an archive into. It appends every write to
// the archive file and lets one unpacking goroutine read the file behind it, so that
// decompressing, unpacking, hashing and writing the machine's files run while the download
// goes on, on another core.
//
// The unpacking never holds the download back: it reads back what the file already holds
// (from the page cache), so there is no buffer in memory for the download to wait on, memory
// does not grow with the archive, and an unpacking that ended early (it refused the archive)
// leaves the download to complete and be checked: the caller then knows whether the body was
// the signed archive, whose refusal counts, or something else, whose checksum error does.
//
// A Fetcher that retries a broken body rewinds its writer (Seek(0, io.SeekStart), then
// Truncate(0)). A rewind stops the unpacking, waits for it, removes what it unpacked (clean),
// and starts a new one that reads the file again from its start, so no file of the broken
// attempt survives into the next.
//
// Write, Seek and Truncate are called by the one goroutine that downloads; finish and stop by
// the one that made it, once the download is over.
type tailUnpacker struct {
	f      *os.File
	unpack func(io.Reader) (sums.Cache, error) // one whole unpacking of the archive read from r
	clean  func() error                        // removes what a stopped unpacking left
	h      hash.Hash                           // sha256 of the current attempt, for sum

	mu    sync.Mutex
	cond  sync.Cond
	size  int64 // bytes of the current attempt written to f
	ended bool  // the download completed: a reader gets io.EOF at size
	gen   int   // which unpacking may read: each stop moves it on
	run   *unpackRun
}

// unpackRun is one unpacking goroutine and, once done is closed, its outcome.
type unpackRun struct {
	done  chan struct{}
	files sums.Cache
	err   error
}

// newTailUnpacker starts unpacking what will be written to f (empty, open for reading and
// writing) with unpack; clean removes what an unpacking left, after it was stopped.
func newTailUnpacker(f *os.File, unpack func(io.Reader) (sums.Cache, error), clean func() error) *tailUnpacker {
	t := &tailUnpacker{f: f, unpack: unpack, clean: clean, h: sha256.New()}
	t.cond.L = &t.mu
	t.start()
	return t
}

// start launches an unpacking of the current attempt.
func (t *tailUnpacker) start() {
	run := &unpackRun{done: make(chan struct{})}
	r := &tailReader{t: t, gen: t.gen}
	t.run = run
	go func() {
		defer close(run.done)
		run.files, run.err = t.unpack(r)
	}()
}

// Write appends p to the file (at the end of the current attempt, whatever the file's offset)
// and lets the unpacking read it.
func (t *tailUnpacker) Write(p []byte) (int, error) {
	t.mu.Lock()
	at := t.size
	t.mu.Unlock()
	n, err := t.f.WriteAt(p, at)
	t.h.Write(p[:n])
	t.mu.Lock()
	t.size += int64(n)
	t.cond.Broadcast()
	t.mu.Unlock()
	return n, err
}

// Seek rewinds the download for a retry: only Seek(0, io.SeekStart) is allowed. It stops the
// unpacking, cleans what it left and starts a new one from the start of the file.
func (t *tailUnpacker) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, fmt.Errorf("the download file can only be rewound to its start, not moved to %d (whence %d)", offset, whence)
	}
	return 0, t.restart(func() error {
		_, err := t.f.Seek(0, io.SeekStart)
		return err
	})
}

// Truncate empties the file for a retry: only Truncate(0) is allowed. When anything was
// written since the last rewind, it restarts the unpacking as Seek does.
func (t *tailUnpacker) Truncate(size int64) error {
	if size != 0 {
		return fmt.Errorf("the download file can only be emptied, not truncated to %d bytes", size)
	}
	t.mu.Lock()
	dirty := t.size > 0 || t.run == nil
	t.mu.Unlock()
	if !dirty {
		return t.f.Truncate(0)
	}
	return t.restart(func() error { return t.f.Truncate(0) })
}

// restart stops the unpacking, cleans up after it, runs op on the stopped file, and starts a
// new unpacking of an empty attempt.
func (t *tailUnpacker) restart(op func() error) error {
	if err := t.stop(); err != nil {
		return err
	}
	if err := op(); err != nil {
		return err
	}
	t.mu.Lock()
	t.size, t.ended = 0, false
	t.h.Reset()
	t.start()
	t.mu.Unlock()
	return nil
}

// sum is the sha256 (hex) of what the current attempt wrote: what the caller checks against
// the signed checksum itself, whatever the Fetcher said.
func (t *tailUnpacker) sum() string { return hex.EncodeToString(t.h.Sum(nil)) }

// stop ends the unpacking, if one runs, waits for it, and removes what it left. It may be
// called any number of times.
func (t *tailUnpacker) stop() error {
	t.mu.Lock()
	run := t.run
	t.run = nil
	t.gen++
	t.cond.Broadcast()
	t.mu.Unlock()
	if run == nil {
		return nil
	}
	<-run.done
	if err := t.clean(); err != nil {
		return fmt.Errorf("clean up an unpacking stopped for a retry: %w", err)
	}
	return nil
}

// finish tells the unpacking that the download is complete and returns its outcome, once it
// has read the end of the file.
func (t *tailUnpacker) finish() (sums.Cache, error) {
	t.mu.Lock()
	run := t.run
	t.run = nil
	t.ended = true
	t.cond.Broadcast()
	t.mu.Unlock()
	if run == nil {
		return nil, errUnpackStopped
	}
	<-run.done
	return run.files, run.err
}

// tailReader reads the current attempt of a tailUnpacker's file from the start, waiting for
// what has not been written yet.
type tailReader struct {
	t   *tailUnpacker
	gen int
	off int64
}

func (r *tailReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t := r.t
	t.mu.Lock()
	for r.gen == t.gen && r.off >= t.size && !t.ended {
		t.cond.Wait()
	}
	stopped, avail := r.gen != t.gen, t.size-r.off
	t.mu.Unlock()
	switch {
	case stopped:
		return 0, errUnpackStopped
	case avail <= 0:
		return 0, io.EOF
	}
	n, err := t.f.ReadAt(p[:min(int64(len(p)), avail)], r.off)
	r.off += int64(n)
	if err == io.EOF {
		// Within what was written, the file cannot end unless it was emptied under us.
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
