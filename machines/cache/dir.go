package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/mms-io/mms/machines/install"
)

// dirMode is the mode of DIR/.mms/archives, as of DIR/.mms.
const dirMode = 0o700

// openDir creates DIR/.mms/archives (0700) when missing, once install has checked DIR/.mms,
// checks it and opens it. With create false it creates nothing: it checks DIR/.mms itself and
// returns nil, nil when there is no cache directory.
func openDir(machinesDir string, create bool) (*os.Root, error) {
	path := install.StatePathFor(machinesDir, install.ArchiveCacheName)
	if create {
		if _, err := install.StatePath(machinesDir, install.ArchiveCacheName); err != nil {
			return nil, err
		}
		if err := os.Mkdir(path, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
	} else {
		state := filepath.Dir(path)
		fi, err := os.Lstat(state)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", state, err)
		}
		if err := install.CheckStateDir(state, fi); err != nil {
			return nil, err
		}
	}
	fi, err := os.Lstat(path)
	if !create && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	if err := install.CheckStateDir(path, fi); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	// What was checked is what was opened: not a directory swapped in between.
	opened, err := root.Stat(".")
	if err != nil || !os.SameFile(fi, opened) {
		root.Close()
		return nil, fmt.Errorf("%w: %s changed while mms opened it; try again", install.ErrStateDir, path)
	}
	return root, nil
}

// found is one archive a scan found.
type found struct {
	sum string
	fi  fs.FileInfo
}

// scanned is what a scan found in the cache directory.
type scanned struct {
	archives []found
	temps    []string      // files Keep did not finish
	foreign  []fs.DirEntry // everything else: never opened, never counted
}

// scan lists the cache directory, opened as root, without opening any file.
func scan(root *os.Root) (scanned, error) {
	var s scanned
	des, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return s, fmt.Errorf("scan archive cache %s: %w", root.Name(), err)
	}
	for _, de := range des {
		sum, kind := parseName(de.Name())
		switch {
		case kind == tempName && !de.IsDir():
			s.temps = append(s.temps, de.Name())
		case kind == archiveName && de.Type().IsRegular():
			fi, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return s, fmt.Errorf("scan archive cache %s: %w", filepath.Join(root.Name(), de.Name()), err)
			}
			s.archives = append(s.archives, found{sum: sum, fi: fi})
		default:
			s.foreign = append(s.foreign, de)
		}
	}
	return s, nil
}

// ReadUsage reports what the archive cache of machinesDir holds, for readers such as mms
// status that must not create anything: a machines directory without a cache has a zero Usage
// and no error. MaxBytes is zero: the bound is a setting of the process that holds the
// directory. A cache directory mms may not trust is refused as Open refuses it.
func ReadUsage(machinesDir string) (Usage, error) {
	root, err := openDir(machinesDir, false)
	if err != nil {
		return Usage{}, fmt.Errorf("read archive cache usage: %w", err)
	}
	if root == nil {
		return Usage{}, nil
	}
	defer root.Close()
	s, err := scan(root)
	if err != nil {
		return Usage{}, fmt.Errorf("read archive cache usage: %w", err)
	}
	var u Usage
	for _, a := range s.archives {
		u.Entries++
		u.Bytes += a.fi.Size()
		u.Checksums = append(u.Checksums, a.sum)
	}
	slices.Sort(u.Checksums)
	return u, nil
}
