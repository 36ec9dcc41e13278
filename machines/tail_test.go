package machines

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/sums"
)

// newTestTail makes a tailUnpacker over a new file in dir, with unpack and a clean that
// removes dir/out.
func newTestTail(t *testing.T, dir string, unpack func(io.Reader) (sums.Cache, error)) *tailUnpacker {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, archiveFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tu := newTailUnpacker(f, unpack, func() error { return os.RemoveAll(filepath.Join(dir, "out")) })
	t.Cleanup(func() { tu.stop() })
	return tu
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

func TestTailUnpacker(t *testing.T) {
	t.Run("the unpacking reads exactly what was written, in order, then the end", func(t *testing.T) {
		var want bytes.Buffer
		got := sha256.New()
		tu := newTestTail(t, t.TempDir(), func(r io.Reader) (sums.Cache, error) {
			_, err := io.Copy(got, r)
			return sums.Cache{}, err
		})
		for i := range 500 {
			p := noise(1 + i*37%9000)
			want.Write(p)
			if _, err := tu.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tu.finish(); err != nil {
			t.Fatal(err)
		}
		if w := sha256.Sum256(want.Bytes()); !bytes.Equal(got.Sum(nil), w[:]) {
			t.Fatal("the unpacking read other bytes than the download wrote")
		}
	})

	t.Run("writes never wait for the unpacking", func(t *testing.T) {
		release := make(chan struct{})
		tu := newTestTail(t, t.TempDir(), func(r io.Reader) (sums.Cache, error) {
			<-release // an unpacking that reads nothing for now, or failed
			return nil, errors.New("refused")
		})
		done := make(chan error)
		go func() {
			p := make([]byte, 256<<10)
			for range 128 { // 32 MiB
				if _, err := tu.Write(p); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the writes waited for the unpacking")
		}
		close(release)
		if _, err := tu.finish(); err == nil || err.Error() != "refused" {
			t.Fatalf("finish = %v, want the unpacking's error", err)
		}
	})

	t.Run("a rewind stops the unpacking, waits for it and cleans what it left before the next attempt starts", func(t *testing.T) {
		dir := t.TempDir()
		var runs, ended atomic.Int32
		tu := newTestTail(t, dir, func(r io.Reader) (sums.Cache, error) {
			n := runs.Add(1)
			defer ended.Add(1)
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				return nil, err // a leftover of the previous attempt
			}
			b, err := io.ReadAll(r)
			if err != nil {
				time.Sleep(50 * time.Millisecond) // a file still being written when the stop came
			}
			// Like any unpacking that fails, this one leaves its files: clean removes them.
			os.WriteFile(filepath.Join(out, "attempt-"+strconv.Itoa(int(n))), b, 0o600)
			if err != nil {
				return nil, err
			}
			return sums.Cache{string(b): {}}, nil
		})
		tu.Write([]byte("the broken attempt"))
		waitFor(t, "the first unpacking read the first bytes", func() bool { return runs.Load() == 1 })
		if _, err := tu.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if ended.Load() != 1 {
			t.Fatal("Seek returned before the first unpacking ended")
		}
		// (the next unpacking may have created out/ again already, not attempt-1)
		if _, err := os.Stat(filepath.Join(dir, "out", "attempt-1")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("what the stopped unpacking wrote is still there: %v", err)
		}
		if err := tu.Truncate(0); err != nil {
			t.Fatal(err)
		}
		tu.Write([]byte("retry"))
		files, err := tu.finish()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := files["retry"]; !ok || len(files) != 1 {
			t.Fatalf("the last unpacking read %v, want only the retry", files)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "out", "attempt-"+strconv.Itoa(int(runs.Load())))); string(b) != "retry" {
			t.Fatalf("the retry's unpacking read %q", b)
		}
	})

	t.Run("a stopped unpacking reads nothing more, and stop can be called again", func(t *testing.T) {
		read := make(chan error, 1)
		tu := newTestTail(t, t.TempDir(), func(r io.Reader) (sums.Cache, error) {
			_, err := io.ReadAll(r)
			read <- err
			return nil, err
		})
		tu.Write([]byte("part of a body"))
		if err := tu.stop(); err != nil {
			t.Fatal(err)
		}
		if err := <-read; !errors.Is(err, errUnpackStopped) {
			t.Fatalf("the stopped unpacking read %v, want errUnpackStopped", err)
		}
		if err := tu.stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the file can only be rewound to its start", func(t *testing.T) {
		tu := newTestTail(t, t.TempDir(), func(r io.Reader) (sums.Cache, error) { return nil, nil })
		if _, err := tu.Seek(3, io.SeekStart); err == nil {
			t.Error("Seek(3) succeeded")
		}
		if _, err := tu.Seek(0, io.SeekEnd); err == nil {
			t.Error("Seek(0, SeekEnd) succeeded")
		}
		if err := tu.Truncate(3); err == nil {
			t.Error("Truncate(3) succeeded")
		}
	})
}
