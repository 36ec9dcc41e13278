package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixture is a machines directory with a staging directory beside the machines, as apply uses.
type fixture struct {
	t        *testing.T
	machines string // the machines directory
	staging  string // where downloads land
	logs     *logBuffer
	rng      *rand.Rand
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	machines := t.TempDir()
	staging := filepath.Join(machines, ".mms-stage-web-1")
	if err := os.Mkdir(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, machines: machines, staging: staging, logs: &logBuffer{}, rng: rand.New(rand.NewPCG(1, 2))}
}

// open opens the fixture's cache with the bound max, failing the test on an error.
func (f *fixture) open(max int64) *Cache {
	f.t.Helper()
	c, err := Open(f.machines, max, f.logs.logger())
	if err != nil {
		f.t.Fatalf("Open: %v", err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// dir is the cache directory of the fixture.
func (f *fixture) dir() string { return filepath.Join(f.machines, ".mms", "archives") }

// archive writes an archive of size random bytes into the staging directory and returns its
// checksum, path and content.
func (f *fixture) archive(size int) (string, string, []byte) {
	f.t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(f.rng.Uint32())
	}
	sum := sumOf(data)
	path := filepath.Join(f.staging, sum[:12]+".tgz")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return sum, path, data
}

// keep keeps the archive at path, failing the test on an error.
func (f *fixture) keep(c *Cache, sum, path string) {
	f.t.Helper()
	if err := c.Keep(sum, path); err != nil {
		f.t.Fatalf("Keep %s: %v", sum[:12], err)
	}
}

// take takes the archive sum and returns its content, or nil on a miss.
func (f *fixture) take(c *Cache, sum string) []byte {
	f.t.Helper()
	file, ok, err := c.Take(sum)
	if err != nil {
		f.t.Fatalf("Take %s: %v", sum[:12], err)
	}
	if !ok {
		return nil
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		f.t.Fatal(err)
	}
	return data
}

func sumOf(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// dirBytes walks the real cache directory and adds up the sizes of everything in it; a file
// that vanishes during the walk is not counted.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return total
}

// cached lists the checksums whose archive is in the real cache directory.
func cached(t *testing.T, dir string) map[string]bool {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, de := range des {
		if sum, ok := strings.CutSuffix(de.Name(), archiveExt); ok {
			got[sum] = true
		}
	}
	return got
}

// logBuffer collects what the cache logs, at every level, from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
