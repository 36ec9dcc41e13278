package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// writersRunning returns the stacks of the writer goroutines still running.
func writersRunning() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "archive.(*writer).run") {
			out = append(out, g)
		}
	}
	return out
}

// noWriterLeft fails when a writer goroutine outlives the Extract that started it: Extract
// waits for its writer, so none may run once it returned.
func noWriterLeft(t *testing.T) {
	t.Helper()
	if left := writersRunning(); len(left) > 0 {
		t.Fatalf("%d writer goroutines run after Extract returned:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// manyFiles is n members web/d/fNNNN of size bytes each, after web/ and web/d/.
func manyFiles(n, size int) []entry {
	out := []entry{dir("web/"), dir("web/d/")}
	body := strings.Repeat("x", size)
	for i := range n {
		out = append(out, file(fmt.Sprintf("web/d/f%04d", i), body))
	}
	return out
}

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestExtractWriter(t *testing.T) {
	t.Run("a failure to create a file ends the extraction with that error, naming the member, and leaves nothing", func(t *testing.T) {
		s := newSandbox(t)
		long := "web/d/" + strings.Repeat("n", 300) // within max_path_length, longer than a file name may be
		members := append(manyFiles(200, 10<<10), file(long, "x"))
		members = append(members, manyFiles(200, 10<<10)[2:]...)
		for i := range members[len(members)-200:] {
			members[len(members)-200+i].hdr.Name += "-after"
		}
		_, err := Extract(bytes.NewReader(tgz(t, members...)), s.dir, "web", DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), long) || !strings.Contains(err.Error(), "file name too long") {
			t.Fatalf("err = %v, want the writer's failure on the long name", err)
		}
		s.confined(t, "web", true)
		noWriterLeft(t)
	})

	t.Run("a refusal while the writer has work queued stops it and leaves nothing", func(t *testing.T) {
		s := newSandbox(t)
		members := append(manyFiles(300, 20<<10), special(tar.TypeSymlink, "web/d/link", "/etc/passwd"))
		_, err := Extract(bytes.NewReader(tgz(t, members...)), s.dir, "web", DefaultLimits())
		if !errors.Is(err, errs.ErrUnsafeArchive) || !strings.Contains(err.Error(), "web/d/link") {
			t.Fatalf("err = %v, want the symlink refused", err)
		}
		s.confined(t, "web", true)
		noWriterLeft(t)
	})

	t.Run("a stream that fails part-way ends the extraction with the reader's error and leaves nothing", func(t *testing.T) {
		s := newSandbox(t)
		data := tgz(t, manyFiles(300, 20<<10)...)
		boom := errors.New("connection reset")
		_, err := Extract(&failingReader{data: data[:len(data)/2], err: boom}, s.dir, "web", DefaultLimits())
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the reader's error", err)
		}
		s.confined(t, "web", true)
		noWriterLeft(t)
	})

	t.Run("a large file streams through memory that does not grow with it", func(t *testing.T) {
		s := newSandbox(t)
		const size = 256 << 20
		pr, pw := io.Pipe()
		go func() {
			zw := newGzip(pw)
			tw := tar.NewWriter(zw)
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "web/", Mode: 0o755})
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "web/big", Mode: 0o644, Size: size})
			zero := make([]byte, 1<<20)
			for range size / len(zero) {
				tw.Write(zero)
			}
			tw.Close()
			pw.CloseWithError(zw.Close())
		}()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		cache, err := Extract(pr, s.dir, "web", DefaultLimits())
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if cache["big"].Size != size {
			t.Fatalf("big is %d bytes", cache["big"].Size)
		}
		// The chunks (2 MiB), the read buffer and gzip's state, whatever the size; the pipe's
		// writer above allocates little.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Fatalf("extracting %d MiB allocated %d MiB (in %s)", size>>20, alloc>>20, time.Since(start))
		}
		noWriterLeft(t)
	})
}
