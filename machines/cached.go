package machines

import (
	"context"
	"fmt"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/cache"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// openCache opens the archive cache of cfg.Dir for one Apply that downloads; with a bound of
// 0 it keeps nothing, and removes what an earlier run with a bound kept. A cache that cannot be
// opened is logged and none is used: the cache saves downloads, it never stops one.
func openCache(cfg Config) *cache.Cache {
	c, err := cache.Open(cfg.Dir, cfg.CacheMaxBytes, cfg.Logger)
	if err != nil {
		cfg.Logger.Warn("archives are not cached", "dir", cfg.Dir, "error", err)
		return nil
	}
	return c
}

// obtain unpacks the entry's archive into the staging directory dir: from the archive cache
// when it keeps that checksum (verified again as it is taken), otherwise fetched, and then
// kept. Installs of one checksum take turns, so that the second takes what the first kept.
func (a *applier) obtain(ctx context.Context, e spec.Entry, dir string) (files sums.Cache, fromCache bool, err error) {
	unlock, err := a.cache.Lock(ctx, e.Checksum)
	if err != nil {
		return nil, false, fmt.Errorf("wait for another install of the same archive: %w", err)
	}
	defer unlock()
	f, ok, err := a.cache.Take(e.Checksum)
	if err != nil {
		a.cfg.Logger.Warn("the archive cache failed; fetching", "machine", e.Name, "error", err)
	}
	if ok {
		defer f.Close()
		files, err := archive.Extract(f, dir, e.Name, a.cfg.Archive)
		if err != nil {
			return nil, true, fmt.Errorf("unpack the cached archive: %w", err)
		}
		a.cfg.Logger.Debug("archive taken from the cache", "machine", e.Name, "checksum", e.Checksum)
		return files, true, nil
	}
	files, err = a.fetchAndExtract(ctx, e, dir, func(path string) {
		if err := a.cache.Keep(e.Checksum, path); err != nil {
			a.cfg.Logger.Warn("could not keep the archive in the cache", "machine", e.Name, "error", err)
		}
	})
	return files, false, err
}
