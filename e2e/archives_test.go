package e2e

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// archiveServer serves machine archives over loopback HTTP and counts the requests per path.
type archiveServer struct {
	dir string
	srv *httptest.Server

	mu     sync.Mutex
	counts map[string]int
}

func newArchiveServer(t *testing.T) *archiveServer {
	t.Helper()
	a := &archiveServer{dir: t.TempDir(), counts: map[string]int{}}
	files := http.FileServer(http.Dir(a.dir))
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.counts[r.URL.Path]++
		a.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// requests returns how many requests asked for path.
func (a *archiveServer) requests(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[path]
}

// url is where file would be served from.
func (a *archiveServer) url(file string) string {
	return a.srv.URL + "/" + file
}

// entry is one specification entry, as mms archive prints it, plus what the test adds.
type entry map[string]any

// build archives the machine in testdata/machines/<fixture> with mms archive under name,
// serves it as file, and returns the entry mms printed. The fixture is copied first: mms
// archive writes SHA256SUMS into the directory it archives.
func (a *archiveServer) build(t *testing.T, fixture, name, file string) entry {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	copyTree(t, filepath.Join("testdata", "machines", fixture), src)
	out := mms(t, nil, "archive", src, "--name", name, "--out", filepath.Join(a.dir, file), "--source", a.url(file))
	var e entry
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("mms archive printed %q: %v", out, err)
	}
	return e
}

// with returns a copy of e with key set to value.
func (e entry) with(key string, value any) entry {
	c := entry{}
	for k, v := range e {
		c[k] = v
	}
	c[key] = value
	return c
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// readTemplate reads a testdata file and replaces each placeholder with its value.
func readTemplate(t *testing.T, path string, replace ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer(replace...).Replace(string(b)))
}
