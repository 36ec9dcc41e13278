package archive

import (
	"archive/tar"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/sums"
)

// copyBufferSize is the one buffer Extract copies file contents through.
const copyBufferSize = 256 << 10

// Extract unpacks the gzip-compressed tar r into dir/name. dir must exist and dir/name must not;
// the archive must hold exactly one top-level directory, named name (member names may start
// with "./").
//
// Only regular files and directories are unpacked; PAX and GNU metadata headers are read and
// skipped. Extract refuses, wrapping errs.ErrUnsafeArchive and naming the member: absolute
// paths, ".." elements, names that are not clean, hold a backslash or a control character,
// members outside name/, symlinks, hard links, devices, FIFOs, sparse files, setuid and setgid
// bits, duplicate members, a file where a directory is needed, and an archive with no members.
// A corrupt gzip or tar stream also wraps errs.ErrUnsafeArchive. Limits are enforced as the
// stream is read, before anything is written past them, and reported as *errs.LimitError
// (max_unpacked_bytes, max_files, max_path_length); the decompressed stream as a whole is cut
// at the unpacked bytes limit plus a fixed allowance per permitted member for headers, so an
// archive of endless metadata or padding is stopped too.
//
// Files keep their exec bits and are at least owner read-write (0644 or 0755 for usual
// archives; group and other write are dropped); directories are at least owner rwx. uid, gid,
// times and names of owners are ignored. Extract does not fsync: the tree is staged, and the
// one who swaps it into place makes it durable first (install.Commit fsyncs every file and
// directory of the staged tree), so it is written to disk once, not twice.
//
// Extract returns the stamp of every file it wrote, keyed by its slash-separated path inside
// dir/name, so that sums.VerifyTree right after extraction reads nothing again.
//
// On error Extract removes dir/name if it created it; if even that fails, the error says so and
// dir/name is the only thing left to clean. It never writes outside dir/name: every write goes
// through an os.Root opened on it.
func Extract(r io.Reader, dir, name string, lim Limits) (sums.Cache, error) {
	if err := checkName("extract", name); err != nil {
		return nil, err
	}
	if err := lim.check(); err != nil {
		return nil, fmt.Errorf("extract %q: %w", name, err)
	}

	parent, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("extract %q: %w", name, err)
	}
	defer parent.Close()

	if err := parent.Mkdir(name, 0o700); err != nil {
		return nil, fmt.Errorf("extract %q: %w", name, err)
	}

	cache, err := extractInto(r, parent, name, lim)
	if err != nil {
		if rmErr := parent.RemoveAll(name); rmErr != nil {
			err = fmt.Errorf("%w (and cleaning up %s failed, remove it by hand: %v)", err, filepath.Join(dir, name), rmErr)
		}
		return nil, err
	}
	return cache, nil
}

// extractInto unpacks r into the directory name of parent, which it has just created.
func extractInto(r io.Reader, parent *os.Root, name string, lim Limits) (sums.Cache, error) {
	root, err := parent.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("extract %q: %w", name, err)
	}
	defer root.Close()

	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, streamError(name, err, nil)
	}
	defer gz.Close()

	stream := &budgetReader{r: gz, left: lim.streamBudget(), lim: lim, name: name}
	x := &extractor{
		name:   name,
		lim:    lim,
		root:   root,
		tr:     tar.NewReader(stream),
		stream: stream,
		kinds:  map[string]kind{".": implicitDir},
		cache:  sums.Cache{},
		buf:    make([]byte, copyBufferSize),
		dirs:   []string{"."},
		modes:  map[string]fs.FileMode{".": 0o755},
	}

	for {
		hdr, err := x.tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, streamError(name, err, stream)
		}
		if err := x.member(hdr); err != nil {
			return nil, err
		}
	}
	if x.members == 0 {
		return nil, fmt.Errorf("extract %q: %w: the archive holds no %s/ directory", name, errs.ErrUnsafeArchive, name)
	}

	// Read to the end so that gzip checks its CRC, within the same budget.
	if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{stream}, x.buf); err != nil {
		return nil, streamError(name, err, stream)
	}

	if err := x.finishDirs(); err != nil {
		return nil, err
	}
	return x.cache, nil
}

// kind is what a path inside the machine directory has become.
type kind uint8

const (
	implicitDir kind = iota + 1 // created because a member needed it
	explicitDir                 // a directory member
	regularFile                 // a file member
)

type extractor struct {
	name    string
	lim     Limits
	root    *os.Root
	tr      *tar.Reader
	stream  *budgetReader
	kinds   map[string]kind
	cache   sums.Cache
	buf     []byte
	dirs    []string               // every directory created, parents first
	modes   map[string]fs.FileMode // final mode of every directory
	members int                    // file and directory members seen
	created int                    // files and directories created, against MaxFiles
	bytes   int64                  // file bytes written, against MaxUnpackedBytes
}

// refuse builds the error for a refused member.
func (x *extractor) refuse(member, format string, args ...any) error {
	return fmt.Errorf("extract %q: member %q: %w: %s", x.name, member, errs.ErrUnsafeArchive, fmt.Sprintf(format, args...))
}

// member checks one tar header and creates what it describes.
func (x *extractor) member(hdr *tar.Header) error {
	if len(hdr.Name) > x.lim.MaxPathLength {
		return &errs.LimitError{Name: LimitMaxPathLength, Limit: int64(x.lim.MaxPathLength), Unit: "bytes",
			What: fmt.Sprintf("a member name of %d bytes in archive %q", len(hdr.Name), x.name)}
	}

	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX global metadata (git archive writes one); nothing to unpack.
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		return x.refuse(hdr.Name, "symlinks are not allowed (to %q)", hdr.Linkname)
	case tar.TypeLink:
		return x.refuse(hdr.Name, "hard links are not allowed (to %q)", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return x.refuse(hdr.Name, "devices are not allowed")
	case tar.TypeFifo:
		return x.refuse(hdr.Name, "FIFOs are not allowed")
	case tar.TypeGNUSparse:
		return x.refuse(hdr.Name, "sparse files are not allowed")
	default:
		return x.refuse(hdr.Name, "member type %q is not allowed, only regular files and directories", hdr.Typeflag)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return x.refuse(hdr.Name, "sparse files are not allowed")
		}
	}
	if hdr.Mode&(0o4000|0o2000) != 0 {
		return x.refuse(hdr.Name, "setuid and setgid bits are not allowed (mode %#o)", hdr.Mode)
	}

	rel, err := x.relPath(hdr)
	if err != nil || rel == "" {
		return err
	}
	x.members++

	if err := x.parents(hdr.Name, rel); err != nil {
		return err
	}
	perm := fs.FileMode(hdr.Mode) & 0o755
	if hdr.Typeflag == tar.TypeDir {
		return x.dir(hdr.Name, rel, perm|0o700)
	}
	return x.file(hdr, rel, perm|0o600)
}

// relPath checks a member's name and returns it relative to the machine directory: "." for the
// top-level directory itself, "" for a member to skip ("./").
func (x *extractor) relPath(hdr *tar.Header) (string, error) {
	p := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		p = strings.TrimSuffix(p, "/")
		t := p
		for strings.HasPrefix(t, "./") {
			t = t[2:]
		}
		if t == "." {
			return "", nil // "./": the directory the archive was made from; nothing to create.
		}
	}
	clean, err := sums.CleanPath(p)
	if err != nil {
		return "", x.refuse(hdr.Name, "%v", err)
	}
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", x.refuse(hdr.Name, "path is not local")
	}

	top, rel, _ := strings.Cut(clean, "/")
	if top != x.name {
		return "", x.refuse(hdr.Name, "outside the top-level directory %q", x.name+"/")
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return "", x.refuse(hdr.Name, "the top-level %q must be a directory", x.name)
		}
		rel = "."
	}
	return rel, nil
}

// parents creates the missing directories leading to rel, refusing to go through a file.
func (x *extractor) parents(member, rel string) error {
	dir := path.Dir(rel)
	if dir == "." || x.kinds[dir] == implicitDir || x.kinds[dir] == explicitDir {
		return nil
	}
	if err := x.parents(member, dir); err != nil {
		return err
	}
	if x.kinds[dir] == regularFile {
		return x.refuse(member, "%s is a file, not a directory", dir)
	}
	if err := x.mkdir(member, dir, 0o755); err != nil {
		return err
	}
	x.kinds[dir] = implicitDir
	return nil
}

// dir handles a directory member.
func (x *extractor) dir(member, rel string, mode fs.FileMode) error {
	switch x.kinds[rel] {
	case explicitDir, regularFile:
		return x.refuse(member, "duplicate member")
	case implicitDir:
		// Created for an earlier member or the top-level directory: take the member's mode.
		x.modes[rel] = mode
	default:
		if err := x.mkdir(member, rel, mode); err != nil {
			return err
		}
	}
	x.kinds[rel] = explicitDir
	return nil
}

// mkdir creates one directory, counting it against MaxFiles.
func (x *extractor) mkdir(member, rel string, mode fs.FileMode) error {
	if err := x.count(); err != nil {
		return err
	}
	if err := x.root.Mkdir(rel, 0o700); err != nil {
		return fmt.Errorf("extract %q: member %q: %w", x.name, member, err)
	}
	x.dirs = append(x.dirs, rel)
	x.modes[rel] = mode
	return nil
}

func (x *extractor) count() error {
	if x.created >= x.lim.MaxFiles {
		return &errs.LimitError{Name: LimitMaxFiles, Limit: int64(x.lim.MaxFiles), Unit: "files",
			What: fmt.Sprintf("archive %q", x.name)}
	}
	x.created++
	return nil
}

// file writes a regular file member, hashing it, and records its stamp.
func (x *extractor) file(hdr *tar.Header, rel string, mode fs.FileMode) error {
	if x.kinds[rel] != 0 {
		return x.refuse(hdr.Name, "duplicate member")
	}
	if hdr.Size > x.lim.MaxUnpackedBytes-x.bytes {
		return &errs.LimitError{Name: LimitMaxUnpackedBytes, Limit: x.lim.MaxUnpackedBytes, Unit: "bytes",
			What: fmt.Sprintf("archive %q (at member %q of %d bytes)", x.name, hdr.Name, hdr.Size)}
	}
	if err := x.count(); err != nil {
		return err
	}
	x.kinds[rel] = regularFile
	x.bytes += hdr.Size

	f, err := x.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("extract %q: member %q: %w", x.name, hdr.Name, err)
	}
	st, err := x.write(f, hdr, mode)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("extract %q: member %q: %w", x.name, hdr.Name, cerr)
	}
	if err != nil {
		return err
	}
	x.cache[rel] = st
	return nil
}

func (x *extractor) write(f *os.File, hdr *tar.Header, mode fs.FileMode) (sums.Stamp, error) {
	fail := func(err error) (sums.Stamp, error) {
		return sums.Stamp{}, fmt.Errorf("extract %q: member %q: %w", x.name, hdr.Name, err)
	}
	if err := f.Chmod(mode); err != nil { // exact, whatever the umask
		return fail(err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), struct{ io.Reader }{x.tr}, x.buf)
	if err != nil {
		return sums.Stamp{}, streamError(x.name, fmt.Errorf("member %q: %w", hdr.Name, err), x.stream)
	}
	if n != hdr.Size {
		return fail(fmt.Errorf("%w: short member: %d of %d bytes", errs.ErrUnsafeArchive, n, hdr.Size))
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	return sums.NewStamp(fi, hex.EncodeToString(h.Sum(nil))), nil
}

// finishDirs sets every directory's final mode, deepest first.
func (x *extractor) finishDirs() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		rel := x.dirs[i]
		if err := x.root.Chmod(rel, x.modes[rel]); err != nil {
			return fmt.Errorf("extract %q: directory %s: %w", x.name, rel, err)
		}
	}
	return nil
}

// streamError turns an error reading the gzip or tar stream into the error Extract returns: the
// stream limit when it was hit, errs.ErrUnsafeArchive for corrupt data, the error itself for a
// failing reader.
func streamError(name string, err error, stream *budgetReader) error {
	if stream != nil && stream.over != nil {
		return stream.over
	}
	var le *errs.LimitError
	if errors.As(err, &le) {
		return err
	}
	var corrupt flate.CorruptInputError
	if errors.As(err, &corrupt) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, tar.ErrFieldTooLong) || errors.Is(err, tar.ErrInsecurePath) {
		return fmt.Errorf("extract %q: %w: corrupt gzip or tar stream: %v", name, errs.ErrUnsafeArchive, err)
	}
	if strings.Contains(err.Error(), "archive/tar:") { // tar's unexported parse errors
		return fmt.Errorf("extract %q: %w: corrupt tar stream: %v", name, errs.ErrUnsafeArchive, err)
	}
	return fmt.Errorf("extract %q: read archive: %w", name, err)
}

// budgetReader cuts the decompressed stream after left bytes with a *errs.LimitError.
type budgetReader struct {
	r    io.Reader
	left int64
	lim  Limits
	name string
	over error
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.over != nil {
		return 0, b.over
	}
	if b.left <= 0 {
		// One byte past the budget proves the stream is longer; a stream of exactly the budget ends cleanly.
		var one [1]byte
		if n, err := b.r.Read(one[:]); n == 0 {
			return 0, err
		}
		b.over = &errs.LimitError{Name: LimitMaxUnpackedBytes, Limit: b.lim.MaxUnpackedBytes, Unit: "bytes",
			What: fmt.Sprintf("archive %q (its decompressed tar stream, headers and padding included)", b.name)}
		return 0, b.over
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
