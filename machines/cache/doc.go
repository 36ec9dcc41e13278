// Package cache keeps verified archives by checksum under DIR/.mms/archives, bounded in bytes,
// so that a revert, a repair after tampering or a second entry naming the same checksum fetches
// nothing.
//
// # What is trusted
//
// Nothing in the directory is trusted: an archive is hashed again every time it is taken
// (Take), and one that no longer hashes to its name is removed, logged and reported as a miss,
// so the caller fetches it again. An archive is kept (Keep) only once it hashed to its checksum
// in the cache's own directory. Files are named by checksum only (<sha256>.tgz); the directory
// is mms's own (0700, owned by the user mms runs as, writable by no one else, checked at Open
// like DIR/.mms itself) and every operation goes through a handle on it (os.Root), so a
// directory swapped in later is never written through.
//
// # The bound
//
// The archives in the directory never add up to more than the bound given to Open, not even
// for an instant: Keep makes room (evicting the least recently used archives, where using is
// Take or Keep, and the order survives restarts as each file's modification time) before its
// file appears, and an archive larger than the bound is not kept. A bound of 0 disables the
// cache: nothing is created, every Take misses, Keep does nothing, and archives a previous run
// left are removed. An archive taken and then evicted stays readable through the file the
// caller holds, as any unlinked file.
//
// # Crashes
//
// Keep writes under a temporary name (.tmp-…), flushes the data and renames it to its final
// name, so a crash may lose an archive, never leave a partial one under a final name (and if
// one did, Take would refuse it). Open removes the temporary files a crash left.
//
// # Use
//
// One process holds a machines directory, but one reconcile installs several archives in
// parallel: every method is safe for concurrent use, and Lock serialises the callers of one
// checksum, so that two installs of the same archive fetch it once:
//
//	unlock, err := c.Lock(ctx, sum)
//	if err != nil {
//		return err
//	}
//	defer unlock()
//	if f, ok, err := c.Take(sum); ok {
//		defer f.Close()
//		return extract(f)
//	} else if err != nil {
//		log.Warn("archive cache", "error", err) // a cache failure is a miss, never a failed install
//	}
//	path := download(sum) // into a staging file beside the machines, verified as it streams
//	if err := c.Keep(sum, path); err != nil {
//		log.Warn("archive cache", "error", err)
//	}
//	unlock() // the waiting installs of sum now take it from the cache
//	return extractFile(path)
//
// A nil *Cache is a disabled one, so a caller without a cache needs no branch.
//
// Readers that must not create anything (mms status) use ReadUsage.
package cache
