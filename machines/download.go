package machines

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// archiveFile is the name of the downloaded archive inside a staging directory.
const archiveFile = ".archive.tgz"

// fetchAndExtract downloads the entry's archive into a file in the staging directory dir,
// hashing it as it streams, and unpacks it into dir while it arrives (a tailUnpacker reads the
// file behind the download), so that the download and the unpacking run at once. What it
// returns is unpacked from exactly the bytes whose checksum matched the signed one: the
// unpacking's result counts only once the Fetcher succeeded, and when the download fails its
// error wins over anything the unpacking said about what it had read (a body that is not the
// signed archive is a checksum error, not whatever garbage it unpacks to). On error, what dir
// holds is for the caller to discard.
//
// The file is not fsynced: it is deleted as soon as the call returns, and the unpacked tree is
// made durable by install.Commit.
//
// When keep is set, it is given the archive file once the download succeeded, before the
// file is deleted (the archive cache links it).
func (a *applier) fetchAndExtract(ctx context.Context, e spec.Entry, dir string, keep func(path string)) (sums.Cache, error) {
	path := filepath.Join(dir, archiveFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the download file: %w", err)
	}
	defer os.Remove(path)
	defer f.Close()

	unpacked := filepath.Join(dir, e.Name) // e.Name is a valid name: one path component
	tu := newTailUnpacker(f,
		func(r io.Reader) (sums.Cache, error) { return archive.Extract(r, dir, e.Name, a.cfg.Archive) },
		func() error { return os.RemoveAll(unpacked) })
	defer tu.stop()

	var out io.Writer = tu
	var pw *progressWriter
	if a.cfg.Progress != nil {
		pw = newProgressWriter(tu, e.Name, a.cfg.Progress)
		out = pw
	}
	src := fetch.Source{URL: e.Source, Username: e.Username, Password: e.Password}
	_, fetchErr := a.fetchers.forURL(e.Source).Fetch(ctx, src, e.Checksum, out)
	if pw != nil {
		pw.done()
	}
	if fetchErr != nil {
		// Not the signed archive, or not all of it: nothing unpacked counts, and the caller
		// discards dir with whatever the stopped unpacking left in it.
		_ = tu.stop()
		return nil, fetchErr
	}
	// The signed checksum decides, checked here too: a source registered by a host could
	// have a bug of its own.
	if got, want := tu.sum(), strings.ToLower(e.Checksum); got != want {
		_ = tu.stop()
		return nil, fmt.Errorf("%w: the source reported the archive complete, but it hashes to %s, not the expected %s", errs.ErrChecksum, got, want)
	}
	files, err := tu.finish()
	if err == nil && keep != nil {
		keep(path)
	}
	return files, err
}
