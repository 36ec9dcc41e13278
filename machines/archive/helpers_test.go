package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one member of a crafted archive.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body}
}

func fileMode(name, body string, mode int64) entry {
	e := file(name, body)
	e.hdr.Mode = mode
	return e
}

func dir(name string) entry {
	return entry{tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}, ""}
}

func special(typ byte, name, link string) entry {
	return entry{tar.Header{Typeflag: typ, Name: name, Linkname: link, Mode: 0o644}, ""}
}

// tarOf writes the members as an uncompressed tar.
func tarOf(t testing.TB, members ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		hdr := m.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("write header %q: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tgz writes the members as a gzip-compressed tar.
func tgz(t testing.TB, members ...entry) []byte { return gz(t, tarOf(t, members...)) }

// sandbox is a scratch tree: base holds the machines directory dir, and nothing else may appear
// in base after an extraction.
type sandbox struct {
	base, dir string
}

func newSandbox(t testing.TB) sandbox {
	t.Helper()
	base := t.TempDir()
	s := sandbox{base: base, dir: filepath.Join(base, "machines")}
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// confined walks base and fails on anything outside dir/name; with gone it also requires
// dir/name to be absent (after a refusal).
func (s sandbox) confined(t testing.TB, name string, gone bool) {
	t.Helper()
	target := filepath.Join(s.dir, name)
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.base || p == s.dir {
			return nil
		}
		if gone || (p != target && !strings.HasPrefix(p, target+string(filepath.Separator))) {
			t.Errorf("found %s outside the extraction target", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless streams a gzip-compressed tar whose members gen writes, one per call, until the reader
// is closed; the test's cleanup closes it.
func endless(t testing.TB, gen func(tw *tar.Writer, i int) error) *countingReader {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		zw := gzip.NewWriter(pw)
		tw := tar.NewWriter(zw)
		for i := 0; ; i++ {
			if err := gen(tw, i); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	t.Cleanup(func() {
		pr.CloseWithError(io.ErrClosedPipe)
		<-done
	})
	return &countingReader{r: pr}
}

func newGzip(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }
