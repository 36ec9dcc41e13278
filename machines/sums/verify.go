package sums

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mms-io/mms/internal/memo"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// MaxSumsBytes is the largest SHA256SUMS file VerifyTree reads: 16 MiB, room for well over the
// default 10,000 files of an archive with long names.
const MaxSumsBytes = 16 << 20

// now is the clock that RacyWindow is measured with; tests move it.
var now = time.Now

// VerifyTree verifies an installed machine directory root (e.g. /etc/choria/machines/web)
// against its SHA256SUMS file, whose sha256 must be verifyChecksum (hex).
//
// Every file SHA256SUMS lists must be a regular file (not a symlink, directory or device; the
// directories leading to it must be real directories), stay inside root, and hash to its listed
// value. Files root holds beyond those listed are not examined.
//
// With full false, a file whose size, mtime, ctime and inode equal its stamp in cache, and whose
// cached sha256 is the expected one, is not read again; every other file is hashed. With full
// true every file is hashed. VerifyTree returns the stamps of the listed files for the next
// call; a file changed less than RacyWindow before it was hashed gets no stamp, so it is hashed
// again next time. cache is not modified.
//
// Errors name the machine and the file, and wrap errs.ErrChecksum for anything wrong with the
// content (mismatch, missing or non-regular file, SHA256SUMS not hashing to verifyChecksum),
// errs.ErrUnsafeArchive for an unparsable SHA256SUMS, and errs.ErrInvalidSpec for a malformed
// verifyChecksum:
//
//	verify "web": file bin/run: checksum mismatch: expected 4f2c… got 9a1b…
func VerifyTree(root string, verifyChecksum string, cache Cache, full bool) (Cache, error) {
	name := filepath.Base(root)
	want := strings.ToLower(verifyChecksum)
	if !IsHex256(want) {
		return nil, fmt.Errorf("verify %q: %w: verify_checksum %q is not 64 hex characters", name, errs.ErrInvalidSpec, verifyChecksum)
	}

	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("verify %q: %w", name, err)
	}
	defer r.Close()
	rootInfo, err := r.Lstat(".")
	if err != nil {
		return nil, fmt.Errorf("verify %q: %w", name, err)
	}
	if unsafeMode(rootInfo.Mode()) {
		return nil, fmt.Errorf("verify %q: %w", name, unsafeError(".", rootInfo.Mode()))
	}
	// Every file belongs to whoever installed the machine, who owns its directory: a file given
	// to anyone else is tampering. (So mms status, run by another user, judges the same.)
	owner, _ := ownerOf(rootInfo)

	list, sumsStamp, err := loadSums(r, root, want, cache, full)
	if err != nil {
		return nil, fmt.Errorf("verify %q: %w", name, err)
	}

	v := verifier{root: r, cache: cache, dirs: map[string]*os.Root{".": r}, fresh: make(Cache, len(list)), owner: owner}
	defer v.close()
	if full {
		v.cache = nil
	}
	for _, e := range list {
		if err := v.file(e); err != nil {
			return nil, fmt.Errorf("verify %q: file %s: %w", name, e.Path, err)
		}
	}
	if sumsStamp.Inode != 0 {
		v.fresh[FileName] = sumsStamp
	}
	return v.fresh, nil
}

// loadSums returns the entries of root's SHA256SUMS after checking that it hashes to want, and
// the stamp to remember it by (Inode 0 when it changed too recently to be trusted). A
// SHA256SUMS unchanged since its stamp in cache, and already parsed by this process, is neither
// read nor parsed again: a long-running node re-verifies the same machines every interval.
func loadSums(r *os.Root, root, want string, cache Cache, full bool) (Sums, Stamp, error) {
	fi, err := r.Lstat(FileName)
	if err != nil {
		return nil, Stamp{}, fmt.Errorf("%s: %w: %w", FileName, errs.ErrChecksum, err)
	}
	cur := NewStamp(fi, want)
	key := parsedKey{root: root, stamp: cur}
	if old, ok := cache[FileName]; ok && !full && old.SHA256 == want && sameFile(old, cur) {
		if list, ok := parsed.Get(key); ok {
			return list, old, nil
		}
	}
	start := now()
	data, err := readSums(r)
	if err != nil {
		return nil, Stamp{}, fmt.Errorf("%s: %w", FileName, err)
	}
	got := sha256.Sum256(data)
	if h := hex.EncodeToString(got[:]); h != want {
		return nil, Stamp{}, fmt.Errorf("%s: %w: expected %s got %s", FileName, errs.ErrChecksum, want, h)
	}
	list, err := Parse(data)
	if err != nil {
		return nil, Stamp{}, err
	}
	if len(list) == 0 {
		return nil, Stamp{}, fmt.Errorf("%w: %s lists no file: nothing could be verified or repaired", errs.ErrUnsafeArchive, FileName)
	}
	if start.UnixNano()-cur.ChangeNs < int64(RacyWindow) {
		return list, Stamp{}, nil
	}
	parsed.Put(key, list)
	return list, cur, nil
}

// parsedKey identifies a SHA256SUMS file's content: its machine directory and its stamp,
// which holds the hash it was verified against.
type parsedKey struct {
	root  string
	stamp Stamp
}

// maxParsed bounds the SHA256SUMS files remembered; past it the memory starts over.
const maxParsed = 4096

// parsed remembers the SHA256SUMS files this process verified and parsed.
var parsed = memo.New[parsedKey, Sums](maxParsed)

type verifier struct {
	root  *os.Root
	cache Cache
	// dirs holds the directories already found to be real directories, opened so that each file
	// costs one fstatat rather than a walk from the top.
	dirs  map[string]*os.Root
	fresh Cache
	// owner is the uid that owns the machine directory, and so every file in it.
	owner int
}

func (v *verifier) close() {
	for d, r := range v.dirs {
		if d != "." {
			r.Close()
		}
	}
}

// file verifies one listed file and records its stamp in v.fresh.
func (v *verifier) file(e Entry) error {
	if e.Path == FileName {
		return fmt.Errorf("%w: %s cannot list itself", errs.ErrChecksum, FileName)
	}
	dir, base := path.Split(e.Path)
	d, err := v.dir(path.Clean(dir))
	if err != nil {
		return err
	}

	fi, err := d.Lstat(base)
	if err != nil {
		return fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file (%s)", errs.ErrChecksum, FileKind(fi.Mode()))
	}
	if unsafeMode(fi.Mode()) {
		return unsafeError(e.Path, fi.Mode())
	}
	if uid, ok := ownerOf(fi); ok && uid != v.owner {
		return fmt.Errorf("%w: %s is owned by uid %d, not by uid %d that installed the machine", errs.ErrChecksum, e.Path, uid, v.owner)
	}

	cur := NewStamp(fi, e.SHA256)
	old, cached := v.cache[e.Path]
	if cached && old.Mode != 0 && old.Mode != cur.Mode {
		return fmt.Errorf("%w: %s has mode %04o, its archive gave it %04o", errs.ErrChecksum, e.Path, cur.Mode, old.Mode)
	}
	if cached && old.SHA256 == e.SHA256 && sameFile(old, cur) {
		v.fresh[e.Path] = old
		return nil
	}

	st, sum, err := hashFile(d, base, fi)
	if err != nil {
		return fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	if sum != e.SHA256 {
		return fmt.Errorf("%w: expected %s got %s", errs.ErrChecksum, e.SHA256, sum)
	}
	// The mode to hold the file to from now on: its archive's, once known.
	expected := cur.Mode
	if cached && old.Mode != 0 {
		expected = old.Mode
	}
	if st.racy {
		// Too recent to trust by stamp: recorded without one (Inode 0 never matches), so that
		// the cache still says which files the tree's SHA256SUMS lists, and the next
		// verification hashes it again.
		v.fresh[e.Path] = Stamp{SHA256: e.SHA256, Mode: expected}
		return nil
	}
	st.Stamp.Mode = expected
	v.fresh[e.Path] = st.Stamp
	return nil
}

// dir opens the directory holding a file, checking that it and every directory leading to it is
// a real directory, not a symlink that os.Root would follow.
func (v *verifier) dir(dir string) (*os.Root, error) {
	if r, ok := v.dirs[dir]; ok {
		return r, nil
	}
	parent, err := v.dir(path.Dir(dir))
	if err != nil {
		return nil, err
	}
	base := path.Base(dir)
	fi, err := parent.Lstat(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory (%s)", errs.ErrChecksum, dir, FileKind(fi.Mode()))
	}
	if unsafeMode(fi.Mode()) {
		return nil, unsafeError(dir, fi.Mode())
	}
	r, err := parent.OpenRoot(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	v.dirs[dir] = r
	return r, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

type hashed struct {
	Stamp
	racy bool
}

// hashFile hashes the file at p, which Lstat found as fi, refusing it if it was replaced by
// something else in between. The stamp is taken before reading, so a write during the read
// changes the file's times and is caught next time.
func hashFile(r *os.Root, p string, fi fs.FileInfo) (hashed, string, error) {
	start := now()
	f, err := r.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return hashed{}, "", err
	}
	defer f.Close()

	ofi, err := f.Stat()
	if err != nil {
		return hashed{}, "", err
	}
	if !ofi.Mode().IsRegular() || !os.SameFile(fi, ofi) {
		return hashed{}, "", errors.New("file was replaced while being verified")
	}

	h := sha256.New()
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	// Hide os.File's WriteTo, which would bring its own 32 KiB buffer per file.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf); err != nil {
		return hashed{}, "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	st := NewStamp(ofi, sum)

	return hashed{Stamp: st, racy: start.UnixNano()-st.ChangeNs < int64(RacyWindow)}, sum, nil
}

// readSums reads root's SHA256SUMS, which must be a regular file of at most MaxSumsBytes.
func readSums(r *os.Root) ([]byte, error) {
	fi, err := r.Lstat(FileName)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file (%s)", errs.ErrChecksum, FileKind(fi.Mode()))
	}
	if fi.Size() > MaxSumsBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d bytes mms reads", errs.ErrUnsafeArchive, fi.Size(), MaxSumsBytes)
	}

	f, err := r.OpenFile(FileName, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errs.ErrChecksum, err)
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, ofi) {
		return nil, fmt.Errorf("%w: file was replaced while being verified", errs.ErrChecksum)
	}

	var b bytes.Buffer
	b.Grow(int(ofi.Size()) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(f, MaxSumsBytes+1)); err != nil {
		return nil, err
	}
	data := b.Bytes()
	if len(data) > MaxSumsBytes {
		return nil, fmt.Errorf("%w: over the %d bytes mms reads", errs.ErrUnsafeArchive, MaxSumsBytes)
	}
	return data, nil
}

// FileKind names the type of a file that is not a regular file, for error messages.
func FileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return m.Type().String()
	}
}

// Unlisted returns, sorted, the files of extracted (what an archive unpacked) that verified
// (what VerifyTree checked against SHA256SUMS) does not hold: files SHA256SUMS does not list,
// which no later verification would cover and no repair restore.
func Unlisted(extracted, verified Cache) []string {
	var out []string
	for p := range extracted {
		if _, ok := verified[p]; !ok && p != FileName {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// unsafeMode tells whether m carries a bit no archive mms installs may give (extraction keeps
// at most 0755): setuid, setgid, sticky, or write for group or others.
func unsafeMode(m fs.FileMode) bool {
	return m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 || m.Perm()&0o022 != 0
}

// unsafeError says that p has a mode its archive cannot have given it.
func unsafeError(p string, m fs.FileMode) error {
	return fmt.Errorf("%w: %s has mode %v, which no archive mms installs gives (no setuid, setgid, sticky, or write for others)", errs.ErrChecksum, p, m)
}

// ownerOf returns the uid that owns the file fi describes, where the platform says.
func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
