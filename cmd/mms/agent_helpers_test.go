package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go/jetstream"
)

// waitLong bounds waiting for something that should happen soon but may involve a process
// starting or a reconnect.
const waitLong = 20 * time.Second

// natsServer starts an embedded NATS server in the test process.
func natsServer(t *testing.T) *embednats.Server { return testnats.Start(t) }

// jsFor connects the test to url.
func jsFor(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	_, js := testnats.Connect(t, url)
	return js
}

// signer is a fresh key pair.
type signer struct {
	pub  string
	priv ed25519.PrivateKey
}

func newSigner(t *testing.T) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{pub: hex.EncodeToString(pub), priv: priv}
}

// pack signs entries as a v2 specification with the given version.
func (s signer) pack(t *testing.T, version int64, entries ...spec.Entry) []byte {
	t.Helper()
	if entries == nil {
		entries = []spec.Entry{}
	}
	list, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := spec.Pack(list, spec.PackOptions{Format: 2, Version: version, Issued: time.Now(), Key: s.priv})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// archives serves machine archives over loopback HTTP.
type archives struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hook  func(w http.ResponseWriter, r *http.Request) bool // handles the request when it returns true
}

func newArchives(t *testing.T) *archives {
	t.Helper()
	a := &archives{files: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		hook, data, ok := a.hook, a.files[r.URL.Path], true
		if data == nil {
			ok = false
		}
		a.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// machine builds an archive of a machine called name whose greeting file says text, serves it
// and returns its entry.
func (a *archives) machine(t *testing.T, name, text string) spec.Entry {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeText(t, filepath.Join(src, "machine.yaml"), "name: "+name+"\nversion: 1.0.0\ninitial_state: unknown\n")
	writeText(t, filepath.Join(src, "greeting.txt"), text)
	var buf bytes.Buffer
	res, err := archive.Build(src, name, &buf)
	if err != nil {
		t.Fatal(err)
	}
	path := "/" + name + "-" + res.Checksum[:12] + ".tgz"
	a.mu.Lock()
	a.files[path] = buf.Bytes()
	a.mu.Unlock()
	return spec.Entry{Name: name, Source: a.srv.URL + path, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
}

func writeText(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is a running mms command.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// startMMS starts the mms binary with args in dir and stops it at the end of the test.
func startMMS(t *testing.T, dir string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(mmsPath(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	p := startProcess(t, cmd)
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("mms %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout, p.stderr)
		}
	})
	return p
}

// stop sends SIGTERM to the process (it alone, by its PID) and returns its exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("signal mms: %v", err)
		}
		select {
		case <-p.done:
		case <-time.After(waitLong):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("mms did not exit within %s of SIGTERM", waitLong)
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// fileSays tells whether path holds exactly text.
func fileSays(path, text string) bool {
	data, err := os.ReadFile(path)
	return err == nil && string(data) == text
}

// staging lists the staging directories in a machines directory.
func staging(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".mms-stage-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// putSpec writes env to a file and publishes it with mms put, failing the test unless it works.
// put publishes env with mms put, checking it with s's public key as an operator does.
func (s signer) put(t *testing.T, url string, env []byte, args ...string) result {
	t.Helper()
	return putSpec(t, url, env, append(args, "--public-key", s.pub)...)
}

func putSpec(t *testing.T, url string, env []byte, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(file, env, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mms(t, dir, append([]string{"put", file, "--server", url}, args...)...)
	if r.code != 0 {
		t.Fatalf("mms put exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	return r
}

// startProcess starts cmd with its output captured, and returns it running; the caller stops
// it (process.stop) by its PID.
func startProcess(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}
