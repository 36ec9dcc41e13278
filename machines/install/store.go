package install

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

const (
	stateDirName  = ".mms"
	stateFileName = "state.json"
	lockFileName  = "lock"
	stateDirMode  = 0o700
	stateFileMode = 0o600
)

// MaxRecordBytes bounds state.json: 128 MiB, far above the record of a thousand machines of
// ten thousand files each. A larger file is not one mms wrote, and is not read into memory.
const MaxRecordBytes = 128 << 20

// Store is the one writer of a machines directory: it holds the directory's lock from Open to
// Close, and every change to a machine and to the record goes through it. Its methods are safe
// for concurrent use.
type Store struct {
	dir     string   // machines directory, as given to Open
	root    *os.Root // the machines directory
	dirFile *os.File // the machines directory, for renameat2 and fsync
	state   *os.Root // <dir>/.mms
	lock    *os.File // <dir>/.mms/lock, flocked

	mu       sync.Mutex
	rec      Record
	dirty    bool // rec has changes (SetVerified) not yet written
	closed   bool
	readOnly bool // opened with Inspect: no lock held, nothing may be written
	cleaned  []string
}

// Open takes the lock of machinesDir, which must exist, creating .mms/ when missing; loads the
// record (a missing state.json is an empty record, a corrupt or unreadable one an error
// wrapping ErrRecord); resolves the operations a crash left unfinished; and removes the stale
// staging and old directories mms left (see the package doc; Cleaned lists them). A second
// Open of the same directory, in this process or another, fails with an error wrapping
// ErrLocked until Close.
func Open(machinesDir string) (*Store, error) {
	fail := func(err error) (*Store, error) {
		return nil, fmt.Errorf("open machines directory %s: %w", machinesDir, err)
	}
	root, err := os.OpenRoot(machinesDir)
	if err != nil {
		return fail(err)
	}
	s := &Store{dir: machinesDir, root: root}
	ok := false
	defer func() {
		if !ok {
			s.release()
		}
	}()
	if s.dirFile, err = root.Open("."); err != nil {
		return fail(err)
	}
	if err := root.Mkdir(stateDirName, stateDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fail(err)
	}
	fi, err := root.Lstat(stateDirName)
	if err != nil {
		return fail(err)
	}
	if err := CheckStateDir(filepath.Join(machinesDir, stateDirName), fi); err != nil {
		return fail(err)
	}
	if s.state, err = root.OpenRoot(stateDirName); err != nil {
		return fail(err)
	}
	if err := s.takeLock(); err != nil {
		return fail(err)
	}
	if err := s.load(); err != nil {
		return fail(err)
	}
	if err := s.resolvePending(); err != nil {
		return fail(err)
	}
	if err := s.clean(); err != nil {
		return fail(err)
	}
	if err := s.checkPrevious(); err != nil {
		return fail(err)
	}
	ok = true
	return s, nil
}

func (s *Store) load() error {
	before, err := s.state.Lstat(stateFileName)
	if errors.Is(err, fs.ErrNotExist) {
		s.rec = Record{Machines: map[string]Managed{}, Pending: map[string]Intent{}, Previous: map[string]Previous{}}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w: %w", s.statePath(), ErrRecord, err)
	}
	if before.Size() > MaxRecordBytes {
		return fmt.Errorf("read %s: %w: it is %d bytes, larger than any record mms writes (%d)", s.statePath(), ErrRecord, before.Size(), MaxRecordBytes)
	}
	stamp := statStamp(before)
	if rec, ok := recall(s.statePath(), stamp); ok {
		s.rec = rec
		return nil
	}
	readAt := clock()
	data, err := s.state.ReadFile(stateFileName)
	if err != nil {
		return fmt.Errorf("read %s: %w: %w", s.statePath(), ErrRecord, err)
	}
	if s.rec, err = DecodeRecord(data); err != nil {
		return fmt.Errorf("read %s: %w", s.statePath(), err)
	}
	// Remember it only if the file read is still the one stamped.
	if after, err := s.state.Lstat(stateFileName); err == nil && statStamp(after) == stamp {
		remember(s.statePath(), stamp, s.rec, readAt)
	}
	return nil
}

// save writes rec to state.json atomically and durably. It does not change s.rec.
func (s *Store) save(rec Record) error {
	if err := s.replaceRecord(rec); err != nil {
		return err
	}
	if err := syncDir(s.state, "."); err != nil {
		return fmt.Errorf("write %s: %w", s.statePath(), err)
	}
	return nil
}

// saveResolving writes rec, which resolves an intent already on disk, atomically but without
// making the rename durable: if a power loss undoes it, state.json holds the intent again and
// Open resolves it the same way, so the extra fsync of .mms buys nothing.
func (s *Store) saveResolving(rec Record) error {
	return s.replaceRecord(rec)
}

// replaceRecord writes rec to a temporary file, fsyncs it and renames it over state.json.
func (s *Store) replaceRecord(rec Record) error {
	data, err := rec.Encode()
	if err != nil {
		return fmt.Errorf("write %s: %w", s.statePath(), err)
	}
	if err := renameio.WriteFile(stateFileName, data, stateFileMode, renameio.WithRoot(s.state)); err != nil {
		return fmt.Errorf("write %s: %w", s.statePath(), err)
	}
	return nil
}

func (s *Store) statePath() string { return filepath.Join(s.dir, stateDirName, stateFileName) }

// Dir is the machines directory, as given to Open.
func (s *Store) Dir() string { return s.dir }

// Cleaned lists the stale entries Open removed, as paths under the machines directory.
func (s *Store) Cleaned() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cleaned)
}

// Managed returns the record of the machine name, and whether mms manages it.
func (s *Store) Managed(name string) (Managed, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.rec.Machines[name]
	return m.clone(), ok
}

// ManagedNames lists the machines mms manages, sorted.
func (s *Store) ManagedNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(func(yield func(string) bool) {
		for k := range s.rec.Machines {
			if !yield(k) {
				return
			}
		}
	})
}

// SetVerified replaces the verification cache of a managed machine after a re-verify; it does
// nothing for a machine mms does not manage. The change is written by Flush or Close (or with
// the next change that writes the record): a lost cache only costs hashing again.
func (s *Store) SetVerified(name string, files sums.Cache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.rec.Machines[name]
	if !ok || maps.Equal(m.Files, files) {
		return // an unchanged cache costs no write: an idle reconcile stays cheap
	}
	m = m.clone()
	m.Files = sums.Cache{}
	for k, v := range files {
		m.Files[k] = v
	}
	s.rec.Machines[name] = m
	s.dirty = true
}

// Flush writes the record when SetVerified changed it since it was last written.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.flushLocked()
}

func (s *Store) flushLocked() error {
	if !s.dirty || s.readOnly {
		return nil
	}
	if err := s.save(s.rec); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// Accepted returns the last specification accepted for this directory, or nil.
func (s *Store) Accepted() *spec.Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.Accepted == nil {
		return nil
	}
	a := *s.rec.Accepted
	return &a
}

// SetAccepted records a as the last specification accepted and writes the record now.
func (s *Store) SetAccepted(a spec.Accepted) error {
	return s.update(func(r *Record) error { r.Accepted = &a; return nil })
}

// NoteAccepted records a as the last specification accepted without writing the record at
// once: it is written, durably, with the first change the store makes to the machines
// directory (Commit and Remove write their intent first, Adopt its record), or by Flush or
// Close when nothing changed. So a specification is never acted on before its acceptance is
// on disk, and a reconcile that installs one machine writes the record twice, not three times.
func (s *Store) NoteAccepted(a spec.Accepted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.Accepted = &a
	s.dirty = true
}

// Adopt records an existing machine directory, which the caller verified against its entry,
// as managed, so that it may be updated and purged from now on. The directory must be a real
// directory, not a symlink. A zero InstalledAt is set to now.
func (s *Store) Adopt(m Managed) error {
	if err := spec.ValidName(m.Name); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	return s.update(func(r *Record) error {
		fi, err := s.root.Lstat(m.Name)
		if err != nil {
			return fmt.Errorf("adopt %q: %w", m.Name, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("adopt %q: %s is a %s, not a directory", m.Name, filepath.Join(s.dir, m.Name), fi.Mode().Type())
		}
		if m.InstalledAt.IsZero() {
			m.InstalledAt = time.Now().UTC()
		}
		r.Machines[m.Name] = m.clone()
		return nil
	})
}

// writable says why the store may not change the directory now (ErrClosed, ErrReadOnly), nil
// when it may. The caller holds s.mu.
func (s *Store) writable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.readOnly:
		return ErrReadOnly
	}
	return nil
}

// update applies change to a copy of the record, writes it, and keeps it when written.
func (s *Store) update(change func(*Record) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	rec := s.rec.clone()
	if err := change(&rec); err != nil {
		return err
	}
	if err := s.save(rec); err != nil {
		return err
	}
	s.rec, s.dirty = rec, false
	return nil
}

// Close writes pending verification caches and releases the lock. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.flushLocked()
	s.closed = true
	s.release()
	return err
}

func (s *Store) release() {
	if s.lock != nil {
		_ = s.lock.Close() // closing the descriptor releases the flock
	}
	if s.state != nil {
		_ = s.state.Close()
	}
	if s.dirFile != nil {
		_ = s.dirFile.Close()
	}
	if s.root != nil {
		_ = s.root.Close()
	}
}
