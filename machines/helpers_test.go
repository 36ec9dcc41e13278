package machines

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

// archiveServer serves archives over loopback HTTP and counts requests per path.
type archiveServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	requests map[string]int
	total    atomic.Int64
}

func newArchiveServer(t testing.TB) *archiveServer {
	s := &archiveServer{files: map[string][]byte{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.total.Add(1)
		s.mu.Lock()
		s.requests[r.URL.Path]++
		body, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *archiveServer) put(path string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
	return s.URL + path
}

func (s *archiveServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// machineArchive builds a real archive of a machine holding files (plus machine.yaml) and
// returns its bytes and entry checksums.
func machineArchive(t testing.TB, name string, files map[string]string) ([]byte, archive.BuildResult) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	all := map[string]string{"machine.yaml": "name: " + name + "\ninitial_state: RUN\n"}
	for k, v := range files {
		all[k] = v
	}
	for p, content := range all {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	res, err := archive.Build(src, name, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

// fixture is a machines directory, a signing key and an archive server.
type fixture struct {
	t      testing.TB
	dir    string
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	srv    *archiveServer
	ver    int64
	issued time.Time
}

func newFixture(t testing.TB) *fixture {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: t.TempDir(), pub: pub, priv: priv, srv: newArchiveServer(t), ver: 100, issued: time.Now().Add(-time.Minute)}
}

// entry publishes an archive of name with files and returns its spec entry.
func (f *fixture) entry(name, version string, files map[string]string) spec.Entry {
	body, res := machineArchive(f.t, name, files)
	url := f.srv.put("/"+name+"-"+version+".tgz", body)
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

// unsigned, given to envelope, packs without a signature.
var unsigned = ed25519.PrivateKey{}

// envelope packs entries as the next v2 version, signed with key (nil: the fixture's key).
func (f *fixture) envelope(key ed25519.PrivateKey, entries ...spec.Entry) []byte {
	f.t.Helper()
	if key == nil {
		key = f.priv
	}
	if len(key) == 0 {
		key = nil
	}
	if entries == nil {
		entries = []spec.Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ver++
	env, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: f.ver, Issued: f.issued, Key: key})
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

func (f *fixture) config() Config {
	return Config{Dir: f.dir, Trust: spec.Trust{Keys: []ed25519.PublicKey{f.pub}}, Purge: true}
}

func (f *fixture) reconcile(env []byte) *Report {
	f.t.Helper()
	return Reconcile(context.Background(), f.config(), env)
}

// result finds the named result in rep.
func result(t *testing.T, rep *Report, name string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for %q in %+v", name, rep.Results)
	return Result{}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshot maps every path under dir, except mms's state, to its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, ".mms") {
			if fi.IsDir() && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		} else if fi.IsDir() {
			out[rel] = "dir"
		} else {
			out[rel] = fi.Mode().Type().String()
		}
		return nil
	})
	return out
}
