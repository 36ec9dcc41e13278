package cache

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mms-io/mms/machines/errs"
)

// tempAttempts bounds the retries when a random temporary name already exists.
const tempAttempts = 10

// Keep keeps the archive at path, whose sha256 is sum, in the cache. path is a verified
// download in a staging directory (the caller hashed it as it arrived). On the filesystem of
// the cache it is hard-linked: no byte is read, copied or flushed by Keep (the install's own
// flush before its swap writes the kept archive out with the machine, a few percent of an
// install); Take verifies every archive when it is used, so a file that is not what its
// name says (a caller's mistake, or one torn by a crash before the system wrote it out) costs a
// fetch, never a wrong install. Elsewhere it is copied, hashed as it is copied (refused with
// errs.ErrChecksum, keeping nothing, unless it hashes to sum) and flushed, and only then given
// its final name. It first evicts the least recently used archives
// until the new one fits within the bound, so the cache never holds more than the bound; an
// archive larger than the bound is not kept (nil error, logged at debug), nor one that cannot
// fit while other Keeps are adding theirs. Keeping an archive already kept counts as a use.
// The caller may remove path afterwards, but must not write to it: the cache may share its
// inode (Take would then refuse the archive, and it would be fetched again).
//
// A Keep error never means the caller's archive is bad, only that the cache did not keep it
// (or, for errs.ErrChecksum, that path is not what the caller thinks): the caller logs it.
func (c *Cache) Keep(sum, path string) error {
	sum, err := normalize(sum)
	if err != nil {
		return fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	if !c.enabled() {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("keep %s in the archive cache: it is a %s, not a regular file", path, fi.Mode().Type())
	}
	size := fi.Size()
	if size > c.max {
		c.log.Debug("archive cache: not keeping an archive larger than the bound", "checksum", sum, "bytes", size, "max_bytes", c.max)
		return nil
	}
	ok, err := c.reserve(sum, size)
	if !ok || err != nil {
		return err
	}
	tmp, err := c.write(sum, path, size)
	return c.commit(sum, size, tmp, err)
}

// reserve makes room for size bytes of the archive sum and counts them as being added. It
// tells false when there is nothing to add: sum is kept already or being kept, or the room is
// held by other Keeps.
func (c *Cache) reserve(sum string, size int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false, fmt.Errorf("keep %s in the archive cache %s: %w", sum, c.dir, ErrClosed)
	}
	if e := c.entries[sum]; e != nil {
		c.useLocked(sum, e)
		return false, nil
	}
	if c.adding[sum] {
		return false, nil
	}
	if err := c.evictLocked(size); err != nil {
		return false, fmt.Errorf("keep %s in the archive cache: %w", sum, err)
	}
	if c.total+c.reserved+size > c.max {
		c.log.Debug("archive cache: no room for an archive while others are being kept", "checksum", sum, "bytes", size, "max_bytes", c.max)
		return false, nil
	}
	c.reserved += size
	c.adding[sum] = true
	return true, nil
}

// commit gives the temporary file tmp, written by write with error werr, its final name and
// ends the reservation of reserve; on any error it removes tmp.
func (c *Cache) commit(sum string, size int64, tmp string, werr error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() {
		c.reserved -= size
		delete(c.adding, sum)
	}()
	err := werr
	if err == nil && c.closed {
		err = fmt.Errorf("keep %s in the archive cache %s: %w", sum, c.dir, ErrClosed)
	}
	if err == nil {
		if err = c.root.Rename(tmp, fileName(sum)); err != nil {
			err = fmt.Errorf("keep %s in the archive cache: %w", sum, err)
		}
	}
	if err != nil {
		if tmp != "" {
			_ = os.Remove(filepath.Join(c.dir, tmp)) // by path: the root may be closed; the next Open removes it otherwise
		}
		return err
	}
	e := &entry{size: size}
	c.entries[sum] = e
	c.total += size
	c.useLocked(sum, e)
	return nil
}

// write puts the archive at path under a temporary name in the cache directory (a hard link,
// or a verified and flushed copy) and returns that name (also with an error, when there is a
// file to remove).
func (c *Cache) write(sum, path string, size int64) (string, error) {
	tmp, err := c.link(path)
	if err != nil {
		c.log.Debug("archive cache: cannot hard-link the archive, copying it", "path", path, "error", err)
		return c.copy(sum, path, size)
	}
	fi, err := c.root.Lstat(tmp)
	if err != nil {
		return tmp, fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	if fi.Size() != size {
		return tmp, fmt.Errorf("keep %s in the archive cache: it changed while being kept (%d bytes, then %d)", path, size, fi.Size())
	}
	return tmp, nil
}

// link hard-links path into the cache directory under a fresh temporary name.
func (c *Cache) link(path string) (string, error) {
	dir, err := c.root.Open(".")
	if err != nil {
		return "", err
	}
	defer dir.Close()
	raw, err := dir.SyscallConn()
	if err != nil {
		return "", err
	}
	for range tempAttempts {
		tmp := tempPrefix + rand.Text()
		var lerr error
		if err := raw.Control(func(fd uintptr) {
			lerr = unix.Linkat(unix.AT_FDCWD, path, int(fd), tmp, 0)
		}); err != nil {
			return "", err
		}
		if errors.Is(lerr, fs.ErrExist) {
			continue
		}
		if lerr != nil {
			return "", &os.LinkError{Op: "link", Old: path, New: filepath.Join(c.dir, tmp), Err: lerr}
		}
		return tmp, nil
	}
	return "", fmt.Errorf("link %s into %s: no free temporary name after %d attempts", path, c.dir, tempAttempts)
}

// copy copies the archive at path, of size bytes, into the cache directory under a fresh
// temporary name, hashing it as it goes.
func (c *Cache) copy(sum, path string, size int64) (string, error) {
	src, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	defer src.Close()
	if fi, err := src.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("keep %s in the archive cache: not a regular file any more (%v)", path, err)
	}
	var dst *os.File
	var tmp string
	for range tempAttempts {
		tmp = tempPrefix + rand.Text()
		dst, err = c.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	defer dst.Close()
	h := sha256.New()
	// Exactly the reserved size, never a byte more: the bound holds while copying too.
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(src, size))
	if err != nil {
		return tmp, fmt.Errorf("keep %s in the archive cache: copy: %w", path, err)
	}
	if extra, _ := src.Read(make([]byte, 1)); n != size || extra != 0 {
		return tmp, fmt.Errorf("keep %s in the archive cache: it changed while being kept (%d bytes, then not)", path, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return tmp, fmt.Errorf("keep %s in the archive cache: %w: expected %s, got %s", path, errs.ErrChecksum, sum, got)
	}
	if err := dst.Sync(); err != nil {
		return tmp, fmt.Errorf("keep %s in the archive cache: fsync: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return tmp, fmt.Errorf("keep %s in the archive cache: %w", path, err)
	}
	return tmp, nil
}
