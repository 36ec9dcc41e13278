package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// FuzzExtract feeds Extract arbitrary archives and checks that nothing ever lands outside the
// target, that a refusal leaves nothing behind, and that only plain files and directories
// without setuid, setgid or group/other write bits are ever created. Inputs that do not start
// with the gzip magic are tar streams and are compressed first, so that the fuzzer explores the
// tar layer rather than gzip's checksums.
func FuzzExtract(f *testing.F) {
	seeds := [][]entry{
		{dir("web/"), file("web/machine.yaml", "name: web\n"), fileMode("web/bin/run", "#!/bin/sh\n", 0o755)},
		{dir("./"), dir("./web/"), file("./web/a..b.txt", "x"), dir("web/empty/")},
		{file("../pwned", "x")},
		{file("/tmp/pwned", "x")},
		{file("web/../../pwned", "x")},
		{special(tar.TypeSymlink, "web/link", ".."), file("web/link/pwned", "x")},
		{special(tar.TypeLink, "web/hard", "/etc/passwd")},
		{file("web/a", "1"), file("web/a", "2")},
		{fileMode("web/suid", "x", 0o4755)},
		{entry{tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": "c"}}, ""}, file("web/x", "x")},
		{entry{tar.Header{Typeflag: tar.TypeReg, Name: "web/" + string(bytes.Repeat([]byte("l"), 200)), Size: 1, Mode: 0o644, Format: tar.FormatGNU}, "x"}},
	}
	for _, s := range seeds {
		data := tarOf(f, s...)
		f.Add(data[:len(data)-1024]) // without the end-of-archive blocks, which tar does not need
	}
	f.Add(tgz(f, seeds[0]...))
	for _, fixture := range []string{"testdata/gnutar.tgz", "testdata/sparse-pax.tgz", "testdata/sparse-gnu.tgz"} {
		if data, err := os.ReadFile(fixture); err == nil {
			f.Add(data)
		}
	}

	scratch := f.TempDir() // cheaper than a t.TempDir per input
	var n atomic.Int64
	lim := Limits{MaxUnpackedBytes: 1 << 20, MaxFiles: 200, MaxPathLength: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			data = gz(t, data)
		}
		s := sandbox{base: filepath.Join(scratch, fmt.Sprint(n.Add(1)))}
		s.dir = filepath.Join(s.base, "machines")
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(s.base)
		_, err := Extract(bytes.NewReader(data), s.dir, "web", lim)
		s.confined(t, "web", err != nil)
		if err != nil {
			return
		}
		var total int64
		filepath.WalkDir(filepath.Join(s.dir, "web"), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, err := d.Info()
			if err != nil {
				t.Fatal(err)
			}
			m := fi.Mode()
			if !m.IsRegular() && !m.IsDir() {
				t.Errorf("%s: created a %v", p, m)
			}
			if m&(fs.ModeSetuid|fs.ModeSetgid) != 0 || m.Perm()&0o022 != 0 {
				t.Errorf("%s: mode %v", p, m)
			}
			if m.IsRegular() {
				total += fi.Size()
			}
			return nil
		})
		if total > lim.MaxUnpackedBytes {
			t.Errorf("unpacked %d bytes past the limit", total)
		}
	})
}
