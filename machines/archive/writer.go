package archive

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"

	"github.com/mms-io/mms/machines/sums"
)

// Extract runs on two goroutines: the one that called it reads the stream (decompression, tar,
// every check, hashing) and decides what to create; a writer goroutine creates it (directories,
// files, their contents and modes), which is mostly system calls. The two overlap, so unpacking
// takes about the longer of the two rather than their sum. Contents travel between them in a
// fixed pool of chunks, so memory does not grow with the archive.
const (
	// chunkSize is the size of one chunk of file content handed to the writer.
	chunkSize = 64 << 10 // 64 KiB
	// chunks is how many chunks exist: the most content in flight between the two goroutines.
	chunks = 32 // 2 MiB
	// maxOpenDirs bounds the directories the writer keeps open to create entries in.
	maxOpenDirs = 64
)

// opKind is what one op asks the writer to do.
type opKind uint8

const (
	opMkdir  opKind = iota + 1 // create directory rel (mode 0700; finishDirs sets the final one)
	opCreate                   // create file rel, to get mode once written
	opData                     // append data to the file being written
	opClose                    // the file is complete: sum is its sha256, size its length
)

// op is one step for the writer, in archive order.
type op struct {
	kind   opKind
	member string // the member's name in the archive, for errors
	rel    string // slash-separated, relative to the machine directory
	mode   fs.FileMode
	data   []byte // opData: a chunk of the pool, given back once written
	sum    string // opClose
}

// writer creates what the reading goroutine decided, in order. Its fields other than the
// channels belong to its goroutine until done is closed.
type writer struct {
	name   string
	root   *os.Root
	ops    chan op
	free   chan []byte   // the chunk pool
	failed chan struct{} // closed when the writer failed: err says why
	stop   chan struct{} // closed by the reader when it gave up: create nothing more
	done   chan struct{} // closed when the writer has returned
	err    error
	cache  sums.Cache
	dirs   map[string]*os.Root // open directories, by rel
	file   *os.File            // the file being written
}

// newWriter starts a writer creating into root (the machine directory).
func newWriter(name string, root *os.Root) *writer {
	w := &writer{
		name:   name,
		root:   root,
		ops:    make(chan op, chunks),
		free:   make(chan []byte, chunks),
		failed: make(chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		cache:  sums.Cache{},
		dirs:   map[string]*os.Root{},
	}
	for range chunks {
		w.free <- chunkPool.Get().(*[chunkSize]byte)[:]
	}
	go w.run()
	return w
}

// chunkPool keeps chunks between extractions.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// chunk returns an empty chunk, waiting for one when all are in flight; it fails when the
// writer did.
func (w *writer) chunk() ([]byte, error) {
	select {
	case c := <-w.free:
		return c[:chunkSize], nil
	case <-w.failed:
		return nil, w.err
	}
}

// send hands o to the writer; it fails when the writer did.
func (w *writer) send(o op) error {
	select {
	case <-w.failed:
		return w.err
	default:
	}
	select {
	case w.ops <- o:
		return nil
	case <-w.failed:
		return w.err
	}
}

// finish waits until everything sent is created, and returns the stamps of the files, or the
// writer's error.
func (w *writer) finish() (sums.Cache, error) {
	close(w.ops)
	<-w.done
	w.release()
	return w.cache, w.err
}

// abandon stops the writer without creating what is still queued, and waits for it to return,
// so that nothing is written once Extract returns.
func (w *writer) abandon() {
	close(w.stop)
	close(w.ops)
	<-w.done
	w.release()
}

// release gives the chunks back to the pool once the writer has returned.
func (w *writer) release() {
	for {
		select {
		case c := <-w.free:
			chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
		default:
			return
		}
	}
}

func (w *writer) run() {
	defer close(w.done)
	defer func() {
		for _, d := range w.dirs {
			d.Close()
		}
		if w.file != nil {
			w.file.Close()
		}
	}()
	for o := range w.ops {
		if w.err != nil || isClosed(w.stop) {
			w.recycle(o)
			continue
		}
		if err := w.do(o); err != nil {
			w.err = fmt.Errorf("extract %q: member %q: %w", w.name, o.member, err)
			close(w.failed)
		}
		w.recycle(o)
	}
}

// recycle gives o's chunk back to the pool.
func (w *writer) recycle(o op) {
	if o.data != nil {
		w.free <- o.data
	}
}

func (w *writer) do(o op) error {
	switch o.kind {
	case opMkdir:
		d, base, err := w.dir(o.rel)
		if err != nil {
			return err
		}
		return d.Mkdir(base, 0o700)
	case opCreate:
		d, base, err := w.dir(o.rel)
		if err != nil {
			return err
		}
		f, err := d.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, o.mode)
		if err != nil {
			return err
		}
		w.file = f
		return nil
	case opData:
		_, err := w.file.Write(o.data)
		return err
	case opClose:
		return w.close(o)
	}
	return fmt.Errorf("unknown op %d", o.kind)
}

// close gives the file written its exact mode, whatever the umask, records its stamp and
// closes it.
func (w *writer) close(o op) error {
	f := w.file
	w.file = nil
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm() != o.mode { // the umask took bits away
		if err = f.Chmod(o.mode); err == nil {
			fi, err = f.Stat()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	w.cache[o.rel] = sums.NewStamp(fi, o.sum)
	return nil
}

// dir returns the open directory holding rel, and rel's last element.
func (w *writer) dir(rel string) (*os.Root, string, error) {
	parent, base := path.Split(rel)
	if parent == "" {
		return w.root, base, nil
	}
	parent = parent[:len(parent)-1]
	if d, ok := w.dirs[parent]; ok {
		return d, base, nil
	}
	if len(w.dirs) >= maxOpenDirs {
		for k, d := range w.dirs {
			d.Close()
			delete(w.dirs, k)
		}
	}
	d, err := w.root.OpenRoot(parent)
	if err != nil {
		return nil, "", err
	}
	w.dirs[parent] = d
	return d, base, nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
