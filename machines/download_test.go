package machines

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
)

// The download and the unpacking run at once (tailUnpacker): these tests try to break the
// rules that make that safe. Nothing is committed unless the signed checksum matched; the
// download's error wins over the unpacking's; a retry unpacks from scratch; an unpacking that
// fails early holds nothing up and leaves no goroutine behind; limits and progress still hold.

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// noise is n bytes that are not gzip.
func noise(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// bigFiles is files of random (incompressible) content, size bytes in all, so that an
// archive of them is long enough for the download and the unpacking to overlap.
func bigFiles(prefix string, files, size int) map[string]string {
	out := map[string]string{}
	for i := range files {
		out[prefix+strconv.Itoa(i)+".bin"] = string(noise(size/files + i))
	}
	return out
}

// pipelineGoroutines returns the stacks of the goroutines of a download's unpacking that still
// run: the tailUnpacker's and the archive writer's.
func pipelineGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "machines.(*tailUnpacker)") || strings.Contains(g, "archive.(*writer).run") {
			out = append(out, g)
		}
	}
	return out
}

// noPipelineLeft fails when a goroutine of an unpacking outlives the reconcile that started it.
func noPipelineLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := pipelineGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the unpacking still run after the reconcile:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noStaging fails when the machines directory holds a staging directory.
func noStaging(t *testing.T, dir string) {
	t.Helper()
	stages, _ := filepath.Glob(filepath.Join(dir, ".mms-stage-*"))
	if len(stages) > 0 {
		t.Fatalf("staging left behind: %v", stages)
	}
}

// notInstalled fails when the machine name exists in dir.
func notInstalled(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (%v): nothing may be committed", name, err)
	}
}

// serveBody starts a server answering every request with body, and returns its URL.
func serveBody(t *testing.T, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/web.tgz"
}

// unsafeArchive is a gzip tar of web/ holding a symlink, after enough files that the
// unpacking is busy when it meets it.
func unsafeArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "web/", Mode: 0o755})
	for i := range 50 {
		body := noise(20 << 10)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "web/f" + strconv.Itoa(i), Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "web/escape", Linkname: "/etc/passwd"})
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestDownloadNothingCommittedWithoutTheSignedChecksum(t *testing.T) {
	t.Run("an archive that unpacks fine but is not the signed one is a checksum error and is not installed", func(t *testing.T) {
		f := newFixture(t)
		signed := f.entry("web", "1", map[string]string{"run": "signed"})
		other, _ := machineArchive(t, "web", bigFiles("other-", 20, 2<<20))
		signed.Source = serveBody(t, other)
		r := result(t, f.reconcile(f.envelope(nil, signed)), "web")
		if !r.Failed() || !errors.Is(r.Err, errs.ErrChecksum) {
			t.Fatalf("result %+v, want a checksum error", r)
		}
		if !strings.Contains(r.Reason, signed.Checksum) || !strings.Contains(r.Reason, sha256Hex(other)) {
			t.Errorf("the refusal %q does not name both checksums", r.Reason)
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})

	t.Run("a body that is not an archive is a checksum error, not the unpacking's refusal of it", func(t *testing.T) {
		f := newFixture(t)
		e := f.entry("web", "1", map[string]string{"run": "signed"})
		garbage := noise(4 << 20)
		e.Source = serveBody(t, garbage)
		r := result(t, f.reconcile(f.envelope(nil, e)), "web")
		if !errors.Is(r.Err, errs.ErrChecksum) || errors.Is(r.Err, errs.ErrUnsafeArchive) {
			t.Fatalf("result %+v, want the checksum error only", r)
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})

	t.Run("an unsafe archive cut short is a download error, not the refusal of what arrived", func(t *testing.T) {
		f := newFixture(t)
		body := unsafeArchive(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)+100))
			w.Write(body) // and 100 bytes short: the connection ends
		}))
		t.Cleanup(srv.Close)
		e := spec.Entry{Name: "web", Source: srv.URL + "/web.tgz", Checksum: sha256Hex(body), VerifyChecksum: sha256Hex([]byte("x"))}
		cfg := f.config()
		cfg.Fetch = fetch.DefaultOptions()
		cfg.Fetch.Retries = 0
		r := result(t, Reconcile(t.Context(), cfg, f.envelope(nil, e)), "web")
		if !errors.Is(r.Err, errs.ErrFetch) || errors.Is(r.Err, errs.ErrUnsafeArchive) {
			t.Fatalf("result %+v, want the download's error only", r)
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})

	t.Run("the signed archive refused by the unpacking is refused as unsafe, after its checksum matched", func(t *testing.T) {
		f := newFixture(t)
		body := unsafeArchive(t)
		e := spec.Entry{Name: "web", Source: serveBody(t, body), Checksum: sha256Hex(body), VerifyChecksum: sha256Hex([]byte("x"))}
		r := result(t, f.reconcile(f.envelope(nil, e)), "web")
		if !errors.Is(r.Err, errs.ErrUnsafeArchive) || !strings.Contains(r.Reason, "symlinks are not allowed") {
			t.Fatalf("result %+v, want the symlink refused", r)
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})
}

// TestDownloadRetryUnpacksFromScratch: a body broken mid-way after the unpacking wrote files
// of it is downloaded again, and the new attempt is unpacked into a clean staging directory.
func TestDownloadRetryUnpacksFromScratch(t *testing.T) {
	f := newFixture(t)
	e := f.entry("web", "2", map[string]string{"run": "the signed version"})
	good, _ := machineArchive(t, "web", map[string]string{"run": "the signed version"})
	// The first attempt sends another archive of web/ with stale.txt first (archive.Build
	// sorts members), then breaks off; the retry sends the signed archive.
	broken, _ := machineArchive(t, "web", map[string]string{"a-stale.txt": "from the broken attempt", "z.bin": string(noise(4 << 20))})
	var attempts atomic.Int32
	var sawStale atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) > 1 {
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			w.Write(good)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(broken)))
		w.Write(broken[:len(broken)/2])
		w.(http.Flusher).Flush()
		// Wait until the unpacking has written the stale file, then break the body.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m, _ := filepath.Glob(filepath.Join(f.dir, ".mms-stage-*", "web", "a-stale.txt")); len(m) > 0 {
				sawStale.Store(true)
				break
			}
			time.Sleep(time.Millisecond)
		}
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	e.Source = srv.URL + "/web.tgz"
	cfg := f.config()
	cfg.Fetch = fetch.DefaultOptions()
	cfg.Fetch.RetryBase = time.Millisecond
	r := result(t, Reconcile(t.Context(), cfg, f.envelope(nil, e)), "web")
	if r.Failed() || attempts.Load() != 2 {
		t.Fatalf("result %+v after %d attempts, want an install after a retry", r, attempts.Load())
	}
	if !sawStale.Load() {
		t.Fatal("the first attempt broke before its unpacking wrote a-stale.txt: the test proves nothing")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "web", "a-stale.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file of the broken attempt survived into the install: %v", err)
	}
	if got := readFile(t, filepath.Join(f.dir, "web", "run")); got != "the signed version" {
		t.Fatalf("run = %q", got)
	}
	noStaging(t, f.dir)
	noPipelineLeft(t)
}

// TestDownloadUnpackingFailsEarly: an unpacking that refuses the archive at its first bytes
// neither stalls nor cuts the download, which completes so that its checksum decides the
// error, and nothing of the unpacking outlives the reconcile.
func TestDownloadUnpackingFailsEarly(t *testing.T) {
	body := noise(16 << 20) // not gzip: the unpacking fails at once
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for off := 0; off < len(body); off += 256 << 10 {
			n, err := w.Write(body[off:min(off+256<<10, len(body))])
			sent.Add(int64(n))
			if err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(time.Millisecond) // the unpacking has long failed by the end
		}
	}))
	t.Cleanup(srv.Close)

	t.Run("the signed body refused by the unpacking is refused as unsafe once it is complete", func(t *testing.T) {
		f := newFixture(t)
		sent.Store(0)
		e := spec.Entry{Name: "web", Source: srv.URL + "/web.tgz", Checksum: sha256Hex(body), VerifyChecksum: sha256Hex([]byte("x"))}
		done := make(chan *Report)
		go func() { done <- f.reconcile(f.envelope(nil, e)) }()
		var rep *Report
		select {
		case rep = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("the reconcile is stuck:\n%s", strings.Join(pipelineGoroutines(), "\n\n"))
		}
		r := result(t, rep, "web")
		if !errors.Is(r.Err, errs.ErrUnsafeArchive) || !strings.Contains(r.Reason, "corrupt gzip") {
			t.Fatalf("result %+v, want the corrupt stream refused", r)
		}
		if sent.Load() != int64(len(body)) {
			t.Errorf("the server sent %d of %d bytes: the download was not completed", sent.Load(), len(body))
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})

	t.Run("with another checksum, the checksum error wins over the unpacking's", func(t *testing.T) {
		f := newFixture(t)
		e := spec.Entry{Name: "web", Source: srv.URL + "/web.tgz", Checksum: sha256Hex([]byte("another")), VerifyChecksum: sha256Hex([]byte("x"))}
		r := result(t, f.reconcile(f.envelope(nil, e)), "web")
		if !errors.Is(r.Err, errs.ErrChecksum) || errors.Is(r.Err, errs.ErrUnsafeArchive) {
			t.Fatalf("result %+v, want the checksum error only", r)
		}
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})

	t.Run("a cancelled download ends the unpacking with it", func(t *testing.T) {
		f := newFixture(t)
		good, res := machineArchive(t, "web", bigFiles("f", 8, 8<<20))
		started := make(chan struct{})
		stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(good)))
			w.Write(good[:len(good)/2])
			w.(http.Flusher).Flush()
			close(started)
			<-r.Context().Done()
		}))
		t.Cleanup(stall.Close)
		e := spec.Entry{Name: "web", Source: stall.URL + "/web.tgz", Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-started; time.Sleep(50 * time.Millisecond); cancel() }()
		start := time.Now()
		r := result(t, Reconcile(ctx, f.config(), f.envelope(nil, e)), "web")
		if !r.Failed() || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %+v, want the cancellation", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the cancelled install took %s", d)
		}
		notInstalled(t, f.dir, "web")
		noStaging(t, f.dir)
		noPipelineLeft(t)
	})
}

// TestDownloadLimits: the unpacking limits hold while the archive streams in.
func TestDownloadLimits(t *testing.T) {
	for _, c := range []struct {
		name  string
		lim   archive.Limits
		limit string
	}{
		{"max_files", archive.Limits{MaxUnpackedBytes: 1 << 30, MaxFiles: 5, MaxPathLength: 1024}, archive.LimitMaxFiles},
		{"max_unpacked_bytes", archive.Limits{MaxUnpackedBytes: 1 << 20, MaxFiles: 1000, MaxPathLength: 1024}, archive.LimitMaxUnpackedBytes},
	} {
		t.Run("refuses an archive over "+c.name, func(t *testing.T) {
			f := newFixture(t)
			e := f.entry("web", "1", bigFiles("f", 10, 4<<20))
			cfg := f.config()
			cfg.Archive = c.lim
			r := result(t, Reconcile(t.Context(), cfg, f.envelope(nil, e)), "web")
			var le *errs.LimitError
			if !errors.As(r.Err, &le) || le.Name != c.limit {
				t.Fatalf("result %+v, want the %s limit", r, c.limit)
			}
			notInstalled(t, f.dir, "web")
			noStaging(t, f.dir)
			noPipelineLeft(t)
		})
	}
}

// TestDownloadInstallsWhatItUnpacked: a large archive unpacked while it downloads installs
// every file, verified, and leaves no download file behind.
func TestDownloadInstallsWhatItUnpacked(t *testing.T) {
	f := newFixture(t)
	files := bigFiles("d/f", 40, 8<<20)
	e := f.entry("web", "1", files)
	r := result(t, f.reconcile(f.envelope(nil, e)), "web")
	if r.Failed() {
		t.Fatal(r.Reason)
	}
	for p, want := range files {
		if got := readFile(t, filepath.Join(f.dir, "web", p)); got != want {
			t.Fatalf("%s differs", p)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "web", archiveFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the download file is in the machine: %v", err)
	}
	noStaging(t, f.dir)
	noPipelineLeft(t)
}
