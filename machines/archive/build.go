package archive

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/sums"
)

// ManifestFile is the file every machine directory must hold for Build to accept it.
const ManifestFile = "machine.yaml"

// buildTime is the modification time of every member Build writes, so that archives do not
// depend on when the files were touched.
var buildTime = time.Unix(0, 0).UTC()

// BuildResult describes an archive Build wrote.
type BuildResult struct {
	// Checksum is the hex sha256 of the archive: an entry's `checksum`.
	Checksum string
	// VerifyChecksum is the hex sha256 of the SHA256SUMS file in it: an entry's `verify_checksum`.
	VerifyChecksum string
	// Files is the number of regular files in the archive, SHA256SUMS included.
	Files int
	// Bytes is their total size, SHA256SUMS included.
	Bytes int64
}

// Build makes a deployable archive of the machine directory src, which must hold machine.yaml.
//
// It first (re)writes src/SHA256SUMS, atomically, listing every regular file under src except
// SHA256SUMS itself, sorted, as `<hex>  <path>` lines. It then writes to out a gzip-compressed tar
// of src under name/: members sorted by path, directories before their contents, every time set
// to the Unix epoch, uid and gid 0 without owner names, modes 0755 for directories and files with
// any exec bit and 0644 for the others, and a gzip header without name or time. Building the
// same tree twice with the same Go release gives identical bytes.
//
// Build refuses, wrapping errs.ErrUnsafeArchive, what Extract would refuse: symlinks, devices,
// FIFOs, sockets, names with a backslash or a control character. A file that changes between
// hashing and archiving is an error. Dot files and directories are included like any other.
func Build(src, name string, out io.Writer) (BuildResult, error) {
	if err := checkName("build", name); err != nil {
		return BuildResult{}, err
	}
	fail := func(format string, args ...any) (BuildResult, error) {
		return BuildResult{}, fmt.Errorf("build %q: "+format, append([]any{name}, args...)...)
	}

	root, err := os.OpenRoot(src)
	if err != nil {
		return fail("%w", err)
	}
	defer root.Close()

	if fi, err := root.Lstat(ManifestFile); err != nil {
		return fail("%s: %w", ManifestFile, err)
	} else if !fi.Mode().IsRegular() {
		return fail("%s: %w: not a regular file", ManifestFile, errs.ErrUnsafeArchive)
	}

	members, list, err := scan(root)
	if err != nil {
		return fail("%w", err)
	}

	sumsData := list.Format()
	if err := renameio.WriteFile(filepath.Join(src, sums.FileName), sumsData, 0o644); err != nil {
		return fail("write %s: %w", sums.FileName, err)
	}
	members = append(members, member{path: sums.FileName, size: int64(len(sumsData))})
	sort.Slice(members, func(i, j int) bool { return members[i].path < members[j].path })

	vs := sha256.Sum256(sumsData)
	res := BuildResult{VerifyChecksum: hex.EncodeToString(vs[:])}
	h := sha256.New()
	if err := writeArchive(io.MultiWriter(out, h), root, name, members, sumsData, &res); err != nil {
		return fail("%w", err)
	}
	res.Checksum = hex.EncodeToString(h.Sum(nil))

	return res, nil
}

// member is one file or directory of the tree Build archives.
type member struct {
	path string // slash-separated, relative to src
	dir  bool
	exec bool
	size int64
	sum  string // hex sha256 of a file, from the first pass
}

// scan walks src, refusing what Extract would refuse, and hashes every regular file.
func scan(root *os.Root) ([]member, sums.Sums, error) {
	var members []member
	var list sums.Sums
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == sums.FileName {
			return nil
		}
		if clean, err := sums.CleanPath(p); err != nil || clean != p {
			return fmt.Errorf("%s: %w: %v", p, errs.ErrUnsafeArchive, err)
		}
		switch {
		case d.IsDir():
			members = append(members, member{path: p, dir: true})
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			sum, size, err := hashMember(root, p)
			if err != nil {
				return err
			}
			members = append(members, member{path: p, exec: fi.Mode()&0o111 != 0, size: size, sum: sum})
			list = append(list, sums.Entry{Path: p, SHA256: sum})
		default:
			return fmt.Errorf("%s: %w: a %s, only regular files and directories can be archived", p, errs.ErrUnsafeArchive, sums.FileKind(d.Type()))
		}
		return nil
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	return members, list, err
}

func hashMember(root *os.Root, p string) (string, int64, error) {
	f, err := root.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeArchive writes the tar.gz of members to w.
func writeArchive(w io.Writer, root *os.Root, name string, members []member, sumsData []byte, res *BuildResult) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)

	dirHeader := func(p string) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755, ModTime: buildTime, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(dirHeader(name)); err != nil {
		return err
	}
	for _, m := range members {
		full := name + "/" + m.path
		if m.dir {
			if err := tw.WriteHeader(dirHeader(full)); err != nil {
				return err
			}
			continue
		}
		mode := int64(0o644)
		if m.exec {
			mode = 0o755
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: full, Mode: mode, Size: m.size, ModTime: buildTime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		if m.path == sums.FileName {
			if _, err := tw.Write(sumsData); err != nil {
				return err
			}
		} else if err := copyMember(tw, root, m); err != nil {
			return fmt.Errorf("%s: %w", m.path, err)
		}
		res.Files++
		res.Bytes += m.size
	}

	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// copyMember copies a file into the archive, checking it is still what scan hashed.
func copyMember(tw *tar.Writer, root *os.Root, m member) error {
	f, err := root.Open(m.path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(f, m.size+1))
	if err != nil || n != m.size || hex.EncodeToString(h.Sum(nil)) != m.sum {
		return fmt.Errorf("changed while the archive was being built (%d of %d bytes: %v)", n, m.size, err)
	}
	return nil
}
