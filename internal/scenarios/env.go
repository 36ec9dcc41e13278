package scenarios

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

// Bucket and Key name the specification the hosts follow.
const (
	Bucket = "MACHINES"
	Key    = "machines"
)

// Wait bounds every wait for a host to do something: far longer than an interval of a
// host under test (2s for the watcher), far shorter than a download timeout.
const Wait = 30 * time.Second

// Env is what a scenario runs against: an embedded NATS server with the bucket, the key the
// host trusts, and an archive server.
type Env struct {
	// URL is the NATS server's client URL.
	URL string
	// PublicKey is the key the host must trust, in hex.
	PublicKey string

	t        *testing.T
	js       jetstream.JetStream
	priv     ed25519.PrivateKey
	archives *testarchive.Server
	version  int64
}

// NewEnv starts the server and the archive server for one scenario; they stop when t ends.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	srv := testnats.Start(t)
	_, js := testnats.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 5}); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: srv.ClientURL(), PublicKey: hex.EncodeToString(pub), t: t, js: js, priv: priv, archives: testarchive.NewServer(t), version: time.Now().UnixMilli()}
}

// Entry serves an archive of machine name whose say.txt holds text, and returns its entry.
func (e *Env) Entry(name, text string) spec.Entry {
	body, res := testarchive.Machine(e.t, name, map[string]string{"say.txt": text})
	url := e.archives.Put("/"+name+"-"+text+".tgz", body)
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

// Hanging returns an entry for name whose source answers nothing until the test ends, and a
// channel that receives when a download of it starts.
func (e *Env) Hanging(name string) (spec.Entry, <-chan struct{}) {
	url, asked := testarchive.Hanging(e.t)
	sum := sha256.Sum256([]byte("never served"))
	s := hex.EncodeToString(sum[:])
	return spec.Entry{Name: name, Source: url, Checksum: s, VerifyChecksum: s}, asked
}

// Put publishes entries as the next version, signed with the trusted key.
func (e *Env) Put(entries ...spec.Entry) { e.PutSigned(e.priv, entries...) }

// PutSigned publishes entries as the next version signed with priv.
func (e *Env) PutSigned(priv ed25519.PrivateKey, entries ...spec.Entry) {
	e.t.Helper()
	e.version++
	env := testarchive.Envelope(e.t, priv, e.version, time.Now().Add(-time.Minute), entries...)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	if _, err := kvspec.Put(ctx, e.js, Bucket, Key, env, kvspec.BucketConfig{}); err != nil {
		e.t.Fatal(err)
	}
}

// Delete deletes the specification's key.
func (e *Env) Delete() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	kv, err := e.js.KeyValue(ctx, Bucket)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := kv.Delete(ctx, Key); err != nil {
		e.t.Fatal(err)
	}
}
