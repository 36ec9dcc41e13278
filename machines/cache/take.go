package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openFlags open a file of the cache for reading without blocking on a FIFO someone put there
// (it is then refused as not a regular file). A symlink is followed only within the cache
// directory (os.Root), and what it leads to must still hash to the name.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK

// Take returns the cached archive whose sha256 is sum, opened for reading at offset 0, after
// hashing it again: ok false is a miss. An archive that no longer hashes to sum (tampered
// with, or corrupt) is removed, logged as a warning with both checksums, and reported as a
// miss, so the caller fetches it again. A hit counts as a use for eviction. The caller closes
// the file; it stays readable even if the archive is evicted meanwhile.
//
// sum is 64 hex characters (ErrInvalidChecksum otherwise). Any other error says the cache
// could not read or remove an archive: the caller treats it as a miss.
func (c *Cache) Take(sum string) (*os.File, bool, error) {
	sum, err := normalize(sum)
	if err != nil {
		return nil, false, fmt.Errorf("take from the archive cache: %w", err)
	}
	if !c.enabled() {
		return nil, false, nil
	}
	path := filepath.Join(c.dir, fileName(sum))
	f, e, err := c.open(sum)
	if f == nil || err != nil {
		return nil, false, err
	}
	got, err := hashFile(f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	current := c.entries[sum] == e // not evicted (and perhaps kept again) while hashing
	if err != nil {
		f.Close()
		if current {
			_ = c.removeLocked(sum, e)
		}
		return nil, false, fmt.Errorf("take %s from the archive cache: read: %w", path, err)
	}
	if got != sum {
		f.Close()
		c.log.Warn("archive cache: a cached archive does not hash to its checksum (tampered with or corrupt): removed, to be fetched again",
			"path", path, "checksum", sum, "expected", sum, "got", got)
		if current {
			if err := c.removeLocked(sum, e); err != nil {
				return nil, false, fmt.Errorf("take from the archive cache: %w", err)
			}
		}
		return nil, false, nil
	}
	if current && !c.closed {
		c.useLocked(sum, e)
	}
	return f, true, nil
}

// open opens the archive of sum if the cache has one: nil, nil, nil on a miss. An archive that
// vanished or is no longer a regular file is forgotten (and removed, if it can be): a miss.
func (c *Cache) open(sum string) (*os.File, *entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, fmt.Errorf("take from the archive cache %s: %w", c.dir, ErrClosed)
	}
	e := c.entries[sum]
	if e == nil {
		return nil, nil, nil
	}
	name := fileName(sum)
	path := filepath.Join(c.dir, name)
	f, err := c.root.OpenFile(name, openFlags, 0)
	if errors.Is(err, fs.ErrNotExist) {
		delete(c.entries, sum)
		c.total -= e.size
		return nil, nil, nil
	}
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
			f.Close()
			c.log.Warn("archive cache: a cached archive was replaced by something else: removed", "path", path, "type", fi.Mode().Type().String())
			return nil, nil, c.removeLocked(sum, e)
		}
	}
	if err != nil {
		_ = c.removeLocked(sum, e) // unreadable: forget it, and let Keep write it again
		return nil, nil, fmt.Errorf("take %s from the archive cache: %w", path, err)
	}
	return f, e, nil
}

// hashFile returns the hex sha256 of what f holds from its current offset.
func hashFile(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
