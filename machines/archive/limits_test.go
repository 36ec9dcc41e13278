package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

// limitError asserts err is the *errs.LimitError named name.
func limitError(t *testing.T, err error, name string) *errs.LimitError {
	t.Helper()
	var le *errs.LimitError
	if !errors.As(err, &le) || !errors.Is(err, errs.ErrLimit) || le.Name != name {
		t.Fatalf("err = %v, want a %s limit error", err, name)
	}
	if !strings.Contains(err.Error(), `archive "web"`) {
		t.Errorf("limit error does not name the archive: %v", err)
	}
	return le
}

var zeros = make([]byte, 64<<10)

func TestExtractLimits(t *testing.T) {
	small := Limits{MaxUnpackedBytes: 1 << 20, MaxFiles: 100, MaxPathLength: 64}

	t.Run("stops a file that claims more than the byte limit before reading its content", func(t *testing.T) {
		s := newSandbox(t)
		src := endless(t, func(tw *tar.Writer, i int) error {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "web/bomb", Mode: 0o644, Size: 1 << 40}); err != nil {
				return err
			}
			for {
				if _, err := tw.Write(zeros); err != nil {
					return err
				}
			}
		})
		_, err := Extract(src, s.dir, "web", small)
		le := limitError(t, err, LimitMaxUnpackedBytes)
		if le.Limit != 1<<20 || le.Unit != "bytes" {
			t.Fatalf("limit error %+v", le)
		}
		if src.n > 256<<10 {
			t.Fatalf("read %d compressed bytes of a bomb before stopping", src.n)
		}
		s.confined(t, "web", true)
	})

	t.Run("stops a gzip bomb of many small files once their total passes the byte limit", func(t *testing.T) {
		s := newSandbox(t)
		src := endless(t, func(tw *tar.Writer, i int) error {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("web/f%d", i), Mode: 0o644, Size: int64(len(zeros))}); err != nil {
				return err
			}
			_, err := tw.Write(zeros)
			return err
		})
		_, err := Extract(src, s.dir, "web", small)
		le := limitError(t, err, LimitMaxUnpackedBytes)
		if !strings.Contains(le.What, `member "web/f16"`) { // 16 x 64 KiB fit in 1 MiB, the 17th does not
			t.Fatalf("stopped at %s", le.What)
		}
		if src.n > 256<<10 {
			t.Fatalf("read %d compressed bytes before stopping", src.n)
		}
		s.confined(t, "web", true)
	})

	t.Run("stops an archive of endless empty files at the file limit", func(t *testing.T) {
		s := newSandbox(t)
		src := endless(t, func(tw *tar.Writer, i int) error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("web/f%d", i), Mode: 0o644})
		})
		_, err := Extract(src, s.dir, "web", small)
		if le := limitError(t, err, LimitMaxFiles); le.Limit != 100 || le.Unit != "files" {
			t.Fatalf("limit error %+v", le)
		}
		s.confined(t, "web", true)
	})

	t.Run("counts directories against the file limit", func(t *testing.T) {
		s := newSandbox(t)
		src := endless(t, func(tw *tar.Writer, i int) error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("web/d%d/", i), Mode: 0o755})
		})
		limitError(t, func() error { _, err := Extract(src, s.dir, "web", small); return err }(), LimitMaxFiles)
		s.confined(t, "web", true)
	})

	t.Run("stops an archive of endless metadata headers", func(t *testing.T) {
		s := newSandbox(t)
		src := endless(t, func(tw *tar.Writer, i int) error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": strings.Repeat("x", 4000)}})
		})
		limitError(t, func() error { _, err := Extract(src, s.dir, "web", small); return err }(), LimitMaxUnpackedBytes)
		s.confined(t, "web", true)
	})

	t.Run("stops endless padding after the end of the tar", func(t *testing.T) {
		s := newSandbox(t)
		good := tarOf(t, dir("web/"), file("web/machine.yaml", "x"))
		pr, pw := io.Pipe()
		go func() {
			zw := newGzip(pw)
			zw.Write(good)
			for {
				if _, err := zw.Write(zeros); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() { pr.CloseWithError(io.ErrClosedPipe) })
		limitError(t, func() error { _, err := Extract(pr, s.dir, "web", small); return err }(), LimitMaxUnpackedBytes)
		s.confined(t, "web", true)
	})

	t.Run("accepts an archive of exactly the limits", func(t *testing.T) {
		s := newSandbox(t)
		lim := Limits{MaxUnpackedBytes: 10, MaxFiles: 3, MaxPathLength: len("web/0123456789")}
		data := tgz(t, dir("web/"), dir("web/d/"), file("web/0123456789", "12345"), file("web/d/x", "12345"))
		if _, err := Extract(bytes.NewReader(data), s.dir, "web", lim); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("refuses a member name longer than the path limit", func(t *testing.T) {
		s := newSandbox(t)
		long := "web/" + strings.Repeat("n", 61)
		_, err := Extract(bytes.NewReader(tgz(t, file(long, "x"))), s.dir, "web", small)
		if le := limitError(t, err, LimitMaxPathLength); le.Limit != 64 || !strings.Contains(le.What, "65 bytes") {
			t.Fatalf("limit error %+v", le)
		}
		s.confined(t, "web", true)
	})

	t.Run("names the limit, which the host says how to raise", func(t *testing.T) {
		s := newSandbox(t)
		_, err := Extract(bytes.NewReader(tgz(t, file("web/a", strings.Repeat("a", 11)))), s.dir, "web", Limits{10, 10, 100})
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != LimitMaxUnpackedBytes || !strings.Contains(err.Error(), "max_unpacked_bytes limit of 10 bytes") {
			t.Fatalf("err = %v", err)
		}
	})
}
