package machines

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// Inventory is what a reconcile reads of the node before it decides anything: what mms
// manages, what is on disk for each entry whose matcher is true, and go-choria's managers of
// those entries' machines. TakeInventory reads it; Decide builds a Plan from it and from
// nothing else, so that a plan can be built, and tested, from values.
type Inventory struct {
	// Managed is every machine the store manages, by name.
	Managed map[string]install.Managed
	// Machines is what is on disk for each entry whose matcher is true, by entry name.
	Machines map[string]Found
	// Managers is go-choria's manager directory of each entry whose matcher is true, by entry
	// name; an entry with no such directory has none.
	Managers map[string]ManagerFound
}

// Found is what the inventory read of one machine directory, against one entry.
type Found struct {
	// Path is the machine's path.
	Path string
	// Err is set when the path could not be inspected; nothing else is then.
	Err error
	// Exists reports whether anything is at Path; IsDir whether it is a directory, and Type
	// its type when it is not.
	Exists, IsDir bool
	Type          fs.FileMode
	// Checked reports whether its files were verified against the entry's verify_checksum. A
	// directory mms manages from another archive is not: it is an update whatever it holds.
	Checked bool
	// Verify is the verification's error; nil when the files verify.
	Verify error
	// Files is the verification cache, when the files verify.
	Files sums.Cache
	// Strays are the entries on disk the archive does not list, looked for when the files
	// verify; StraysErr is the error looking for them.
	Strays    sums.Strays
	StraysErr error
}

// Problem says why the machine is not exactly what its entry installs: missing, not a
// directory, failing verification, or holding strays; nil when it is. It is what mms status
// reports as "verifies now".
func (f Found) Problem() error {
	switch {
	case f.Err != nil:
		return f.Err
	case !f.Exists:
		return fmt.Errorf("%s is missing", f.Path)
	case !f.IsDir:
		return fmt.Errorf("%s is a %s, not a directory", f.Path, f.Type.Type())
	case !f.Checked:
		return fmt.Errorf("%s was not verified", f.Path)
	case f.Verify != nil:
		return f.Verify
	case f.StraysErr != nil:
		return f.StraysErr
	case !f.Strays.Empty():
		return fmt.Errorf("%s holds what its archive does not: %s", f.Path, f.Strays.String())
	}
	return nil
}

// ManagerFound is go-choria's manager directory (mm_<name>) of one entry's machine.
type ManagerFound struct {
	// Manager is the rendering, when the directory is go-choria's; nil when Err is set.
	Manager *GoChoriaManager
	// Err wraps ErrNotGoChoriaManager when the directory is not go-choria's rendering, or is
	// the error reading it.
	Err error
	// Installed is the machine verified against the manager's own verify_checksum. It is read
	// only when it can matter: the machine is a directory mms does not manage, does not
	// verify against the entry, and the manager's checksums are sha256 hex. Nil otherwise.
	Installed *Found
}

// InspectMachine reads what is at dir/e.Name and verifies it against e, from the
// verification cache of rec when mms manages it (managed) from the same SHA256SUMS, and by
// hashing every file when full. It changes nothing.
func InspectMachine(dir string, e spec.Entry, rec install.Managed, managed, full bool) Found {
	f := Found{Path: filepath.Join(dir, e.Name)}
	fi, err := os.Lstat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f
	case err != nil:
		f.Err = fmt.Errorf("inspect %s: %w", f.Path, err)
		return f
	}
	f.Exists, f.IsDir, f.Type = true, fi.IsDir(), fi.Mode().Type()
	if !f.IsDir || (managed && rec.Checksum != e.Checksum) {
		return f
	}
	var cache sums.Cache
	if managed && rec.VerifyChecksum == e.VerifyChecksum {
		cache = rec.Files
	}
	f.Checked = true
	f.Files, f.Verify = sums.VerifyTree(f.Path, e.VerifyChecksum, cache, full)
	if f.Verify == nil {
		f.Strays, f.StraysErr = sums.FindStrays(f.Path, f.Files)
	} else {
		f.Files = nil
	}
	return f
}

// EntryOf returns the entry a managed machine was installed from, as its record says: what
// mms status verifies an installed machine against.
func EntryOf(m install.Managed) spec.Entry {
	return spec.Entry{Name: m.Name, Source: m.Source, Checksum: m.Checksum, VerifyChecksum: m.VerifyChecksum}
}

// TakeInventory reads, for the entries of s whose matcher is true (matched, by index), what
// Decide needs: the store's records, each machine on disk verified against its entry, and
// go-choria's manager of each. It reads the entries on every CPU at once and changes nothing.
func TakeInventory(s *spec.Spec, matched []Matched, st *install.Store, full bool) Inventory {
	inv := Inventory{
		Managed:  make(map[string]install.Managed),
		Machines: make(map[string]Found, len(s.Entries)),
		Managers: make(map[string]ManagerFound),
	}
	for _, name := range st.ManagedNames() {
		if m, ok := st.Managed(name); ok {
			inv.Managed[name] = m
		}
	}
	found := make([]Found, len(s.Entries))
	managers := make([]*ManagerFound, len(s.Entries))
	parallel(len(s.Entries), func(i int) {
		if !matched[i].OK {
			return
		}
		e := s.Entries[i]
		rec, managed := inv.Managed[e.Name]
		found[i] = InspectMachine(st.Dir(), e, rec, managed, full)
		managers[i] = inspectManager(st.Dir(), e, found[i], managed)
	})
	for i, e := range s.Entries {
		if !matched[i].OK {
			continue
		}
		inv.Machines[e.Name] = found[i]
		if managers[i] != nil {
			inv.Managers[e.Name] = *managers[i]
		}
	}
	return inv
}

// inspectManager reads go-choria's manager of e's machine, nil when there is none, and the
// machine verified against the manager's checksums when that can decide a takeover.
func inspectManager(dir string, e spec.Entry, f Found, managed bool) *ManagerFound {
	mgr, err := FindGoChoriaManager(dir, e.Name)
	if err == nil && mgr == nil {
		return nil
	}
	mf := &ManagerFound{Manager: mgr, Err: err}
	if mgr == nil || managed || !f.IsDir || !f.Checked || f.Verify == nil || !managerSums(mgr) {
		return mf
	}
	installed := InspectMachine(dir, managerEntry(mgr), install.Managed{}, false, true)
	mf.Installed = &installed
	return mf
}

// managerSums reports whether the manager's checksums are sha256 hex, as an entry's must be.
func managerSums(mgr *GoChoriaManager) bool {
	return sums.IsHex256(strings.ToLower(mgr.Checksum)) && sums.IsHex256(strings.ToLower(mgr.VerifyChecksum))
}

// managerEntry is the entry go-choria's manager installs.
func managerEntry(mgr *GoChoriaManager) spec.Entry {
	return spec.Entry{Name: mgr.Machine, Source: mgr.Source, Checksum: strings.ToLower(mgr.Checksum), VerifyChecksum: strings.ToLower(mgr.VerifyChecksum)}
}
