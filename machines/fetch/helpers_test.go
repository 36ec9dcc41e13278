package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testBody is a small archive-like body served by the tests' servers.
var testBody = []byte(strings.Repeat("machine archive bytes\n", 100))

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// testOptions are DefaultOptions with fast retries, so a test never waits a second.
func testOptions(mutate ...func(*Options)) Options {
	o := DefaultOptions()
	o.RetryBase = time.Millisecond
	o.Retries = 2
	o.Timeout = 30 * time.Second
	for _, m := range mutate {
		m(&o)
	}
	return o
}

func newFetcher(t testing.TB, mutate ...func(*Options)) *Fetcher {
	t.Helper()
	f, err := New(testOptions(mutate...))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// server starts a plain loopback server and counts the requests it handled.
func server(t testing.TB, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// tlsServer is server over TLS with httptest's self-signed certificate.
func tlsServer(t testing.TB, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// serve answers every request with body.
func serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }
}

// outPath is a path in a fresh directory where no file exists yet.
func outPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "archive.tgz")
}

func assertNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("%s should not exist, Lstat says %v", path, err)
	}
}

// localhostURL rewrites a 127.0.0.1 server URL to name the same server as localhost, which
// the redirect policy counts as a different host.
func localhostURL(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

// quietLog discards a test server's own error log.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
