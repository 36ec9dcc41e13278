package machines

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"github.com/mms-io/mms/machines/install"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

// machineArchive builds a real archive of a machine holding files (plus machine.yaml) and
// returns its bytes and entry checksums.
func machineArchive(t testing.TB, name string, files map[string]string) ([]byte, archive.BuildResult) {
	t.Helper()
	return testarchive.Machine(t, name, files)
}

// fixture is a machines directory, a signing key and an archive server.
type fixture struct {
	t      testing.TB
	dir    string
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	srv    *testarchive.Server
	ver    int64
	issued time.Time
}

func newFixture(t testing.TB) *fixture {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: t.TempDir(), pub: pub, priv: priv, srv: testarchive.NewServer(t), ver: 100, issued: time.Now().Add(-time.Minute)}
}

// entry publishes an archive of name with files and returns its spec entry.
func (f *fixture) entry(name, version string, files map[string]string) spec.Entry {
	body, res := machineArchive(f.t, name, files)
	url := f.srv.Put("/"+name+"-"+version+".tgz", body)
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
	f.ver++
	return testarchive.Envelope(f.t, key, f.ver, f.issued, entries...)
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

// acceptedVersion is the version of the specification the directory's record says it
// accepted last, 0 for none.
func (f *fixture) acceptedVersion(t *testing.T) int64 {
	t.Helper()
	st, err := install.Inspect(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if a := st.Accepted(); a != nil {
		return a.Version
	}
	return 0
}
