package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentKeepAndTakeKeepTheBound(t *testing.T) {
	const max = 20000
	f := newFixture(t)
	c := f.open(max)
	type arch struct {
		sum, path string
		data      []byte
	}
	var archives []arch
	for range 30 {
		sum, path, data := f.archive(500 + f.rng.IntN(4500))
		archives = append(archives, arch{sum, path, data})
	}
	done := make(chan struct{})
	var over atomic.Int64
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := dirBytes(t, f.dir()); n > max {
				over.Store(n)
			}
		}
	})
	var hits atomic.Int64
	var workers sync.WaitGroup
	for w := range 8 {
		workers.Go(func() {
			for i := range 150 {
				a := archives[(w*7+i*13)%len(archives)]
				var unlock func()
				if i%2 == 0 { // half of them through the lock, half straight
					var err error
					if unlock, err = c.Lock(context.Background(), a.sum); err != nil {
						t.Error(err)
						return
					}
				}
				file, ok, err := c.Take(a.sum)
				if err != nil {
					t.Error(err)
				}
				if ok {
					got, _ := io.ReadAll(file)
					file.Close()
					if !bytes.Equal(got, a.data) {
						t.Errorf("Take %s returned other bytes", a.sum[:12])
					}
					hits.Add(1)
				} else if err := c.Keep(a.sum, a.path); err != nil {
					t.Error(err)
				}
				if unlock != nil {
					unlock()
				}
			}
		})
	}
	workers.Wait()
	close(done)
	watcher.Wait()
	if n := over.Load(); n > 0 {
		t.Errorf("the cache directory held %d bytes at some point, over the bound of %d", n, max)
	}
	u := c.Usage()
	if n := dirBytes(t, f.dir()); u.Bytes != n || n > max {
		t.Errorf("Usage %+v, directory %d bytes, bound %d", u, n, max)
	}
	if hits.Load() == 0 {
		t.Error("no Take hit: the test did not exercise the cache")
	}
	if len(c.locks) != 0 || c.reserved != 0 || len(c.adding) != 0 {
		t.Errorf("left behind: %d locks, %d bytes reserved, %d being added", len(c.locks), c.reserved, len(c.adding))
	}
}

func TestLock(t *testing.T) {
	t.Run("serialises two fillers of one checksum: one fetch, both get the archive", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		sum, path, data := f.archive(4000)
		var fills, inside, most atomic.Int32
		install := func() []byte {
			unlock, err := c.Lock(t.Context(), sum)
			if err != nil {
				t.Error(err)
				return nil
			}
			defer unlock()
			n := inside.Add(1)
			defer inside.Add(-1)
			if n > most.Load() {
				most.Store(n)
			}
			if file, ok, err := c.Take(sum); ok && err == nil {
				defer file.Close()
				got, _ := io.ReadAll(file)
				return got
			}
			fills.Add(1)
			time.Sleep(50 * time.Millisecond) // a download
			if err := c.Keep(sum, path); err != nil {
				t.Error(err)
			}
			return data
		}
		var wg sync.WaitGroup
		results := make([][]byte, 2)
		for i := range results {
			wg.Go(func() { results[i] = install() })
		}
		wg.Wait()
		if fills.Load() != 1 {
			t.Errorf("%d fetches, want 1", fills.Load())
		}
		if most.Load() != 1 {
			t.Errorf("%d callers held the lock of one checksum at once", most.Load())
		}
		for i, got := range results {
			if !bytes.Equal(got, data) {
				t.Errorf("install %d got other bytes", i)
			}
		}
	})
	t.Run("does not hold up another checksum, and a wait ends with its context", func(t *testing.T) {
		f := newFixture(t)
		c := f.open(1 << 20)
		a, _, _ := f.archive(10)
		b, _, _ := f.archive(10)
		unlockA, err := c.Lock(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		unlockB, err := c.Lock(ctx, b)
		if err != nil {
			t.Fatalf("Lock of another checksum waited: %v", err)
		}
		unlockB()
		short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancelShort()
		if _, err := c.Lock(short, a); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Lock of a held checksum = %v, want the context's deadline", err)
		}
		unlockA()
		unlockA() // a second call does nothing
		unlockA, err = c.Lock(ctx, a)
		if err != nil {
			t.Fatalf("Lock after unlock: %v", err)
		}
		unlockA()
		if len(c.locks) != 0 {
			t.Errorf("%d locks left behind", len(c.locks))
		}
	})
}
