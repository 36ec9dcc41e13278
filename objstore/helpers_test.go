package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/objstore"
)

// bucket is the bucket the tests publish into.
const bucket = "archives"

// testTimeout bounds what a test waits for, so that a bug fails it instead of hanging it.
const testTimeout = 30 * time.Second

// env is a real embedded NATS server with JetStream and a connection to it.
type env struct {
	srv *embednats.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func start(t testing.TB) *env {
	t.Helper()
	srv := testnats.Start(t)
	nc, js := testnats.Connect(t, srv.ClientURL())
	return &env{srv: srv, nc: nc, js: js}
}

// publish puts data as name in the test bucket and returns its obj:// URL.
func (e *env) publish(t testing.TB, name string, data []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := objstore.Publish(ctx, e.js, bucket, name, bytes.NewReader(data), 1); err != nil {
		t.Fatal(err)
	}
	return objstore.Ref{Bucket: bucket, Name: name}.String()
}

// store returns the test bucket.
func (e *env) store(t testing.TB) jetstream.ObjectStore {
	t.Helper()
	obs, err := e.js.ObjectStore(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// forge rewrites the object's meta message as change says, the way a writer to the bucket
// could: nats.go keeps an object's info as the last message on $O.BUCKET.M.<base64url(name)>
// (a rollup), and its content on $O.BUCKET.C.<nuid>.
func (e *env) forge(t testing.TB, name string, change func(*jetstream.ObjectInfo)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	info, err := e.store(t).GetInfo(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	change(info)
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg("$O." + bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name)))
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = data
	if _, err := e.js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// testOptions are fetch's defaults with fast retries, so a test never waits a second.
func testOptions(mutate ...func(*fetch.Options)) fetch.Options {
	o := fetch.DefaultOptions()
	o.RetryBase = time.Millisecond
	o.Retries = 2
	o.Timeout = testTimeout
	for _, m := range mutate {
		m(&o)
	}
	return o
}

func newFetcher(t testing.TB, js jetstream.JetStream, mutate ...func(*fetch.Options)) *objstore.Fetcher {
	t.Helper()
	f, err := objstore.New(js, testOptions(mutate...), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// archive is n bytes that compress badly, as a real archive does; the same n gives the same
// bytes.
func archive(n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// storeDigest is an Object Store digest of b, as nats.go writes it.
func storeDigest(b []byte) string {
	h := sha256.Sum256(b)
	return "SHA-256=" + base64.URLEncoding.EncodeToString(h[:])
}

// recorder is a writer that cannot be rewound and records the sizes it was told.
type recorder struct {
	bytes.Buffer
	mu    sync.Mutex
	sizes []int64
	// sized, when set, is closed at the first ExpectSize: the download is about to stream.
	sized chan struct{}
}

func (r *recorder) ExpectSize(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes = append(r.sizes, n)
	if r.sized != nil && len(r.sizes) == 1 {
		close(r.sized)
	}
}

func (r *recorder) told() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.sizes...)
}

// gate holds the first Write until released, having said that it began: a download that
// stops, mid-stream, exactly when the test says.
type gate struct {
	began   chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{began: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) hold() {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.began)
		<-g.release
	}
}

// gatedBuffer is a writer that cannot be rewound, held at its first Write by a gate.
type gatedBuffer struct {
	*gate
	buf bytes.Buffer
}

func (w *gatedBuffer) Write(p []byte) (int, error) {
	w.hold()
	return w.buf.Write(p)
}

// gatedFile is a file (it can be rewound, as the host's download file can), held at its first
// Write by a gate, that counts how often it was truncated.
type gatedFile struct {
	*gate
	*os.File
	truncated int
}

func newGatedFile(t testing.TB) *gatedFile {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "archive.tgz"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &gatedFile{gate: newGate(), File: f}
}

func (w *gatedFile) Write(p []byte) (int, error) {
	w.hold()
	return w.File.Write(p)
}

func (w *gatedFile) Truncate(size int64) error {
	w.truncated++
	return w.File.Truncate(size)
}

func (w *gatedFile) content(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(w.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// within fails the test unless ch delivers within testTimeout.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("%s: not within %s", what, testTimeout)
		var zero T
		return zero
	}
}

// fetched is one Fetch's result, for a Fetch run in a goroutine.
type fetched struct {
	res fetch.Result
	err error
}

func fetchAsync(ctx context.Context, f *objstore.Fetcher, url, want string, w io.Writer) <-chan fetched {
	done := make(chan fetched, 1)
	go func() {
		res, err := f.Fetch(ctx, fetch.Source{URL: url}, want, w)
		done <- fetched{res, err}
	}()
	return done
}
