package archive

import (
	"archive/tar"
	"bufio"
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

// readBufferSize is the buffer Extract reads a stream through when it has none of its own.
const readBufferSize = 64 << 10 // 64 KiB

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
// one who swaps it into place makes it durable first (install.Commit syncs the filesystem
// holding the staged tree), so it is written to disk once, not twice.
//
// Extract reads, checks and hashes on the calling goroutine while another creates the
// directories and files and writes them (mostly system calls), so the two overlap on two
// cores. They share a fixed pool of chunks (2 MiB), and r is read through one 64 KiB buffer
// unless it is an io.ByteReader: memory does not grow with the archive. Extract returns only
// once that goroutine has ended, whatever the outcome; nothing is written after it returned.
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

	if _, ok := r.(io.ByteReader); !ok {
		// gzip would read through a 4 KiB buffer of its own: one read of r per 4 KiB
		r = bufio.NewReaderSize(r, readBufferSize)
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, streamError(name, err, nil)
	}
	defer gz.Close()

	stream := &budgetReader{r: gz, left: lim.streamBudget(), lim: lim, name: name}
	x := &extractor{
		name:   name,
		lim:    lim,
		tr:     tar.NewReader(stream),
		stream: stream,
		kinds:  map[string]kind{".": implicitDir},
		dirs:   []string{"."},
		modes:  map[string]fs.FileMode{".": 0o755},
		w:      newWriter(name, root),
	}
	if err := x.read(); err != nil {
		x.w.abandon()
		return nil, err
	}
	cache, err := x.w.finish()
	if err != nil {
		return nil, err
	}
	if err := finishDirs(root, name, x.dirs, x.modes); err != nil {
		return nil, err
	}
	return cache, nil
}

// read reads the whole stream, checking every member and handing what it creates to the
// writer.
func (x *extractor) read() error {
	for {
		hdr, err := x.tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return streamError(x.name, err, x.stream)
		}
		if err := x.member(hdr); err != nil {
			return err
		}
	}
	if x.members == 0 {
		return fmt.Errorf("extract %q: %w: the archive holds no %s/ directory", x.name, errs.ErrUnsafeArchive, x.name)
	}
	// Read to the end so that gzip checks its CRC, within the same budget.
	buf, err := x.w.chunk()
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{x.stream}, buf)
	x.w.free <- buf
	if err != nil {
		return streamError(x.name, err, x.stream)
	}
	return nil
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
	tr      *tar.Reader
	stream  *budgetReader
	w       *writer // creates what the extractor decides
	kinds   map[string]kind
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
	if err := x.w.send(op{kind: opMkdir, member: member, rel: rel}); err != nil {
		return err
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

	if err := x.w.send(op{kind: opCreate, member: hdr.Name, rel: rel, mode: mode}); err != nil {
		return err
	}
	h := sha256.New()
	var n int64
	for {
		buf, err := x.w.chunk()
		if err != nil {
			return err
		}
		k, err := fill(x.tr, buf)
		n += int64(k)
		h.Write(buf[:k])
		if k > 0 {
			if err := x.w.send(op{kind: opData, member: hdr.Name, data: buf[:k]}); err != nil {
				return err
			}
		} else {
			x.w.free <- buf
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return streamError(x.name, fmt.Errorf("member %q: %w", hdr.Name, err), x.stream)
		}
	}
	if n != hdr.Size {
		return fmt.Errorf("extract %q: member %q: %w: short member: %d of %d bytes", x.name, hdr.Name, errs.ErrUnsafeArchive, n, hdr.Size)
	}
	return x.w.send(op{kind: opClose, member: hdr.Name, rel: rel, mode: mode, sum: hex.EncodeToString(h.Sum(nil))})
}

// fill reads r into buf until buf is full (nil error) or r ends (io.EOF) or fails.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// finishDirs sets every directory's final mode, deepest first.
func finishDirs(root *os.Root, name string, dirs []string, modes map[string]fs.FileMode) error {
	for i := len(dirs) - 1; i >= 0; i-- {
		rel := dirs[i]
		if err := root.Chmod(rel, modes[rel]); err != nil {
			return fmt.Errorf("extract %q: directory %s: %w", name, rel, err)
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
