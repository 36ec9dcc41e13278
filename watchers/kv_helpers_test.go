package watchers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/choria-io/go-choria/aagent/machine"
	"github.com/choria-io/go-choria/aagent/model"
	aawatchers "github.com/choria-io/go-choria/aagent/watchers"
	"github.com/choria-io/go-choria/aagent/watchers/kvwatcher"
	"github.com/choria-io/go-choria/aagent/watchers/timerwatcher"
	"github.com/choria-io/go-choria/choria"
	"github.com/choria-io/go-choria/config"
	"github.com/choria-io/go-choria/inter"
	"github.com/choria-io/go-choria/srvcache"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

// The bucket and key of testdata/kv and testdata/kv_data_item.
const (
	testBucket = "MACHINES"
	testKey    = "machines"
)

// waitFor bounds every wait for something the machine does.
const waitFor = 15 * time.Second

// pollEvery is how often a wait looks again.
const pollEvery = 10 * time.Millisecond

// registerPlugins registers the machines watcher and go-choria's kv watcher with go-choria's
// watcher manager, once per test binary, as a choria binary does at start.
var registerPlugins = sync.OnceValue(func() error {
	for _, p := range []interface{ PluginInstance() any }{ChoriaPlugin(), kvwatcher.ChoriaPlugin(), timerwatcher.ChoriaPlugin()} {
		c, ok := p.PluginInstance().(model.WatcherConstructor)
		if !ok {
			return errors.New("watcher plugin is not a model.WatcherConstructor")
		}
		if err := aawatchers.RegisterWatcherPlugin(c.Type(), c); err != nil {
			return err
		}
	}
	return nil
})

// broker is an embedded NATS server with JetStream and the operator's connection to it.
type broker struct {
	srv *embednats.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

// startBroker starts an embedded server, creates the bucket, and stops both when the test ends.
func startBroker(t *testing.T) *broker {
	t.Helper()
	srv, err := embednats.Start(embednats.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	// The operator's connection retries quickly, so that a put after a restart need not
	// wait for nats.go's default two seconds.
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: testBucket, History: 5}); err != nil {
		t.Fatal(err)
	}
	return &broker{srv: srv, nc: nc, js: js}
}

// put stores value as the specification, retrying while the server is coming back, and
// returns its revision.
func (b *broker) put(t *testing.T, value []byte) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		rev, err := kvspec.Put(rctx, b.js, testBucket, testKey, value, kvspec.BucketConfig{})
		rcancel()
		if err == nil {
			return rev
		}
		if ctx.Err() != nil {
			t.Fatalf("put the specification: %v", err)
		}
	}
}

// delete deletes the specification key.
func (b *broker) delete(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	kv, err := b.js.KeyValue(ctx, testBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, testKey); err != nil {
		t.Fatal(err)
	}
}

// choriaConnection connects to url with go-choria's own connector, the one a Choria server
// gives its machines, without TLS; it is closed when the test ends.
func choriaConnection(t *testing.T, url string) inter.Connector {
	t.Helper()
	cfg, err := config.NewDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = testIdentity
	cfg.DisableTLS = true
	cfg.Choria.SecurityProvider = "file"
	cfg.LogFile = "discard"
	fw, err := choria.NewWithConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	servers := func() (srvcache.Servers, error) { return srvcache.StringHostsToServers([]string{url}, "nats") }
	conn, err := fw.NewConnector(ctx, servers, "machines-watcher-test", fw.Logger("connector"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// node is a started go-choria machine loaded from testdata/<def>/machine.yaml in a fresh
// machines directory, connected to a broker, trusting signer (hex, "" for none) through the
// Choria setting plugin.choria.machine.signing_key.
type node struct {
	m    *machine.Machine
	n    *notifier
	dir  string // the machines directory
	stop func()
}

func startNode(t *testing.T, def string, conn inter.Connector, signer string) *node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "machines")
	m, n, stop := startMachine(t, def, dir, func(m *machine.Machine) error {
		m.SetSignerKey(signer)
		return m.SetConnection(conn)
	})
	return &node{m: m, n: n, dir: dir, stop: stop}
}

// startMachine loads testdata/<def>/machine.yaml as the machine of its name in the machines
// directory dir, lets setup configure it as Choria's host would, and starts it. It returns the
// machine, the notifier that collects what it publishes, and a stop function the test's
// cleanup also calls.
func startMachine(t *testing.T, def, dir string, setup func(*machine.Machine) error) (*machine.Machine, *notifier, func()) {
	t.Helper()
	if err := registerPlugins(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", def, "machine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil || head.Name == "" {
		t.Fatalf("testdata/%s/machine.yaml has no name: %v", def, err)
	}
	own := filepath.Join(dir, head.Name)
	if err := os.MkdirAll(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "machine.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	m, err := machine.FromYAML(filepath.Join(own, "machine.yaml"), aawatchers.New(ctx))
	if err != nil {
		cancel()
		t.Fatalf("load machine: %v", err)
	}
	m.SetIdentity(testIdentity)
	if setup != nil {
		if err := setup(m); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	n := &notifier{t: t, states: make(chan *StateNotification, 100)}
	m.RegisterNotifier(n)

	wg := &sync.WaitGroup{}
	select {
	case <-m.Start(ctx, wg):
	case <-time.After(waitFor):
		cancel()
		t.Fatal("machine did not start")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			m.Stop() // also stops the machine's transition backoff timer
			cancel()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return m, n, stop
}

// waitState waits for a published state, at index from or later, that satisfies ok, and
// returns it with its index.
func (n *notifier) waitState(t *testing.T, from int, what string, ok func(*StateNotification) bool) (*StateNotification, int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		n.mu.Lock()
		for i := from; i < len(n.all); i++ {
			if ok(n.all[i]) {
				s := n.all[i]
				n.mu.Unlock()
				return s, i
			}
		}
		n.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no state %s within %v; published: %s", what, waitFor, n.summary())
		}
		<-tick.C
	}
}

// published returns how many states were published so far.
func (n *notifier) published() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.all)
}

// summary lists the published states, one a line, for failure messages.
func (n *notifier) summary() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, s := range n.all {
		b.WriteString("\n  ")
		b.WriteString(s.String())
		b.WriteString(" triggers=")
		b.WriteString(strings.Join(s.Triggers, ","))
	}
	return b.String()
}

// countLines returns how many log lines so far match re.
func (n *notifier) countLines(re *regexp.Regexp) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, l := range n.lines {
		if re.MatchString(l) {
			c++
		}
	}
	return c
}

// waitLines waits until at least count log lines match re.
func (n *notifier) waitLines(t *testing.T, count int, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for n.countLines(re) < count {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d log lines matching %s within %v", count, re, waitFor)
		}
		<-tick.C
	}
}

// skippedIn matches the line the watcher logs when a trigger arrives outside its states.
func skippedIn(state, trigger string) *regexp.Regexp {
	return regexp.MustCompile(`Not reconciling in state ` + state + ` \(triggered by \[[a-z ]*\b` + trigger + `\b[a-z ]*\]\)`)
}

// has tells whether a state was triggered by trigger.
func has(s *StateNotification, trigger string) bool {
	return slices.Contains(s.Triggers, trigger)
}

// specs publishes machine archives and packs signed v2 specifications of them.
type specs struct {
	t    *testing.T
	srv  *testarchive.Server
	priv ed25519.PrivateKey
	ver  int64
}

func newSpecs(t *testing.T) *specs {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &specs{t: t, srv: testarchive.NewServer(t), priv: priv, ver: spec.VersionAt(time.Now())}
}

// publicKey is the hex public key that verifies the specifications.
func (s *specs) publicKey() string {
	return hex.EncodeToString(s.priv.Public().(ed25519.PublicKey))
}

// entry publishes an archive of machine name whose version.txt holds version.
func (s *specs) entry(name, version string) spec.Entry {
	s.t.Helper()
	body, res := testarchive.Machine(s.t, name, map[string]string{"version.txt": version})
	url := s.srv.Put("/"+name+"-"+version+".tgz", body)
	return spec.Entry{Name: name, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

// envelope packs entries as the next v2 version, signed with key.
func (s *specs) envelope(key ed25519.PrivateKey, entries ...spec.Entry) []byte {
	s.t.Helper()
	s.ver++
	return testarchive.Envelope(s.t, key, s.ver, time.Now().Add(-time.Minute), entries...)
}

// installedVersion returns the version.txt of machine name in dir, "" when it is not there.
func installedVersion(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name, "version.txt"))
	if err != nil {
		return ""
	}
	return string(b)
}

// waitVersion waits until machine name in dir holds version.
func waitVersion(t *testing.T, dir, name, version string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for installedVersion(dir, name) != version {
		if time.Now().After(deadline) {
			t.Fatalf("machine %s holds version %q, not %q, after %v", name, installedVersion(dir, name), version, waitFor)
		}
		<-tick.C
	}
}

// tree maps every path under the machines directory to its content, leaving out mms's
// dot-prefixed state and the manager machine's own directory (its data file changes).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "machines_manager") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		case d.IsDir():
			out[rel] = "dir"
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
