package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// DefaultMaxBytes is the default bound of the archive cache: 1 GiB.
const DefaultMaxBytes = 1 << 30 // 1 GiB

// ErrClosed means a Cache was used after Close.
var ErrClosed = errors.New("archive cache closed")

// Usage is what the archive cache holds, for mms status.
type Usage struct {
	// Entries is the number of archives kept.
	Entries int `json:"entries"`
	// Bytes is their total size.
	Bytes int64 `json:"bytes"`
	// MaxBytes is the bound; 0 when the cache is disabled, or unknown to the reader (ReadUsage).
	MaxBytes int64 `json:"max_bytes"`
	// Checksums are the sha256 of the archives kept, sorted. ReadUsage lists what the files
	// are named, unverified: an archive is verified when it is used.
	Checksums []string `json:"checksums"`
}

// Cache is the archive cache of one machines directory: DIR/.mms/archives. Its methods are
// safe for concurrent use; a nil *Cache is a disabled cache.
type Cache struct {
	root *os.Root // the cache directory; nil when disabled
	dir  string   // its path, for errors and logs
	max  int64
	log  *slog.Logger

	mu       sync.Mutex
	entries  map[string]*entry // by checksum
	total    int64             // bytes of entries
	reserved int64             // bytes of the archives Keep is adding
	adding   map[string]bool   // checksums Keep is adding
	seq      uint64            // the last use handed out: orders uses within this process
	lastUse  time.Time         // the last use stamped on a file: strictly increasing
	locks    map[string]*keyLock
	closed   bool
}

// entry is one archive in the cache.
type entry struct {
	size int64
	used uint64 // the use order: the smallest is evicted first
}

// Open opens the archive cache of machinesDir, bounded to maxBytes, and logs to log (nil
// discards). It goes through install.StatePath, so DIR/.mms is checked (and created) first,
// creates DIR/.mms/archives (0700) when missing and refuses it (install.ErrStateDir) when it
// is a symlink, not a directory, not owned by the running user or writable by others. It
// removes the temporary files of a Keep a crash interrupted and evicts down to maxBytes, the
// bound having perhaps been lowered since the last run.
//
// maxBytes 0 disables the cache: nothing is created, and the archives a previous run kept are
// removed, as a bound of 0 bytes says. A negative maxBytes is an error.
func Open(machinesDir string, maxBytes int64, log *slog.Logger) (*Cache, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("open archive cache in %s: the bound is %d bytes: it must be positive, or 0 to disable the cache", machinesDir, maxBytes)
	}
	if maxBytes == 0 {
		return openDisabled(machinesDir, log)
	}
	root, err := openDir(machinesDir, true)
	if err != nil {
		return nil, fmt.Errorf("open archive cache: %w", err)
	}
	c := &Cache{
		root:    root,
		dir:     root.Name(),
		max:     maxBytes,
		log:     log,
		entries: map[string]*entry{},
		adding:  map[string]bool{},
		locks:   map[string]*keyLock{},
	}
	s, err := scan(root)
	if err == nil {
		err = c.removeTemps(s.temps)
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open archive cache: %w", err)
	}
	for _, de := range s.foreign {
		log.Warn("archive cache: ignoring a file the cache did not write", "path", filepath.Join(c.dir, de.Name()), "type", de.Type().String())
	}
	// The least recently used first, by the modification time Take and Keep stamp.
	sort.Slice(s.archives, func(i, j int) bool {
		a, b := s.archives[i].fi.ModTime(), s.archives[j].fi.ModTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return s.archives[i].sum < s.archives[j].sum
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range s.archives {
		c.seq++
		c.entries[a.sum] = &entry{size: a.fi.Size(), used: c.seq}
		c.total += a.fi.Size()
		if t := a.fi.ModTime(); t.After(c.lastUse) {
			c.lastUse = t
		}
	}
	if err := c.evictLocked(0); err != nil {
		root.Close()
		return nil, fmt.Errorf("open archive cache: %w", err)
	}
	return c, nil
}

// openDisabled returns a disabled cache, after removing the archives a previous run kept.
func openDisabled(machinesDir string, log *slog.Logger) (*Cache, error) {
	root, err := openDir(machinesDir, false)
	if err != nil {
		return nil, fmt.Errorf("open archive cache (disabled): %w", err)
	}
	if root == nil {
		return &Cache{log: log}, nil
	}
	defer root.Close()
	c := &Cache{root: root, dir: root.Name(), log: log}
	s, err := scan(root)
	if err == nil {
		err = c.removeTemps(s.temps)
	}
	var n int
	var bytes int64
	for _, a := range s.archives {
		if err != nil {
			break
		}
		if err = root.Remove(fileName(a.sum)); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		n++
		bytes += a.fi.Size()
	}
	if err != nil {
		return nil, fmt.Errorf("open archive cache (disabled): remove what it kept: %w", err)
	}
	if len(s.foreign) == 0 {
		_ = os.Remove(c.dir) // best effort: the directory is empty
	}
	if n > 0 {
		log.Info("archive cache disabled: removed the archives it kept", "path", c.dir, "archives", n, "bytes", bytes)
	}
	return &Cache{log: log}, nil
}

// removeTemps removes the temporary files of a Keep a crash interrupted.
func (c *Cache) removeTemps(names []string) error {
	for _, name := range names {
		if err := c.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s, left by a crash: %w", filepath.Join(c.dir, name), err)
		}
		c.log.Debug("archive cache: removed a file left by a crash", "path", filepath.Join(c.dir, name))
	}
	return nil
}

// enabled tells whether c keeps anything.
func (c *Cache) enabled() bool { return c != nil && c.max > 0 }

// Usage reports what the cache holds now. A disabled cache holds nothing.
func (c *Cache) Usage() Usage {
	if !c.enabled() {
		return Usage{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return Usage{Entries: len(c.entries), Bytes: c.total, MaxBytes: c.max, Checksums: slices.Sorted(maps.Keys(c.entries))}
}

// Close releases the cache directory. Take and Keep fail with ErrClosed afterwards; the files
// Take returned stay readable.
func (c *Cache) Close() error {
	if !c.enabled() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.root.Close()
}

// useLocked marks the entry of sum as just used: first in this process's order, and on its
// file's modification time, which carries the order over restarts. Failing to stamp the file
// costs only the order after a restart, so it is logged, not returned.
func (c *Cache) useLocked(sum string, e *entry) {
	c.seq++
	e.used = c.seq
	now := time.Now()
	if !now.After(c.lastUse) {
		now = c.lastUse.Add(time.Nanosecond)
	}
	c.lastUse = now
	if err := c.root.Chtimes(fileName(sum), now, now); err != nil {
		c.log.Debug("archive cache: could not mark an archive used", "checksum", sum, "error", err)
	}
}

// evictLocked removes the least recently used archives until need more bytes fit within the
// bound beside the archives kept and being added. It tells nothing when they cannot: what is
// left is being added by other Keeps; the caller checks.
func (c *Cache) evictLocked(need int64) error {
	for c.total+c.reserved+need > c.max {
		var victim string
		var oldest *entry
		for sum, e := range c.entries {
			if oldest == nil || e.used < oldest.used {
				victim, oldest = sum, e
			}
		}
		if oldest == nil {
			return nil
		}
		if err := c.removeLocked(victim, oldest); err != nil {
			return fmt.Errorf("evict: %w", err)
		}
		c.log.Debug("archive cache: evicted the least recently used archive", "checksum", victim, "bytes", oldest.size)
	}
	return nil
}

// removeLocked removes the archive of sum: its file first, then its bytes from the total, so
// that the directory never holds more than the total says.
func (c *Cache) removeLocked(sum string, e *entry) error {
	if err := c.root.Remove(fileName(sum)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", filepath.Join(c.dir, fileName(sum)), err)
	}
	delete(c.entries, sum)
	c.total -= e.size
	return nil
}
