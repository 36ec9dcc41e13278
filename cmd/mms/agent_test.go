package main

import (
	"context"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines/install"
	"github.com/nats-io/nats.go"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

// machinesDir makes a machines directory inside a fresh work directory.
func machinesDir(t *testing.T) (work, machines string) {
	t.Helper()
	work = t.TempDir()
	machines = filepath.Join(work, "machines")
	if err := os.Mkdir(machines, 0o755); err != nil {
		t.Fatal(err)
	}
	return work, machines
}

// waitForLog waits until the process has logged text on standard error.
func waitForLog(t *testing.T, p *process, text string) {
	t.Helper()
	testwait.Eventually(t, waitLong, "log line "+text, func() bool { return strings.Contains(p.stderr.String(), text) })
}

func TestAgentCommand(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	key := newSigner(t)

	t.Run("installs, applies a change within a second of mms put when told no splay, and purges what the spec drops", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		v1, v2 := arch.machine(t, "hello", "version 1"), arch.machine(t, "hello", "version 2")
		other := arch.machine(t, "other", "other")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "INSTALL", "--public-key", key.pub, "--purge", "--identity", "node1", "--splay", "0")

		key.put(t, url, key.pack(t, 1, v1, other), "--bucket", "INSTALL", "--public-key", key.pub)
		testwait.Eventually(t, waitLong, "first install", func() bool {
			return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "version 1") && fileSays(filepath.Join(dir, "other", "greeting.txt"), "other")
		})

		key.put(t, url, key.pack(t, 2, v2), "--bucket", "INSTALL")
		put := time.Now()
		testwait.Eventually(t, time.Second, "update within a second of mms put", func() bool {
			return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "version 2")
		})
		t.Logf("update applied %s after mms put returned", time.Since(put).Round(time.Millisecond))
		testwait.Eventually(t, waitLong, "other purged", func() bool {
			_, err := os.Stat(filepath.Join(dir, "other"))
			return os.IsNotExist(err)
		})
		waitForLog(t, p, "machine remove")
		if s := staging(t, dir); len(s) > 0 {
			t.Fatalf("staging left behind: %v", s)
		}
		if code := p.stop(t); code != 0 {
			t.Fatalf("agent exited %d after SIGTERM, want 0", code)
		}
	})

	t.Run("shows what it installed in mms status, while it runs", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		writeText(t, filepath.Join(dir, "byhand"), "")
		if err := os.Mkdir(filepath.Join(dir, "placed"), 0o755); err != nil {
			t.Fatal(err)
		}
		startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "STATUS", "--public-key", key.pub)
		key.put(t, url, key.pack(t, 42, hello), "--bucket", "STATUS")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "hi") })
		testwait.Eventually(t, waitLong, "last report", func() bool {
			_, ok, _ := readLastReport(dir)
			return ok
		})
		r := mms(t, work, "status", "--dir", dir)
		if r.code != 0 {
			t.Fatalf("status exited %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{
			"Accepted specification: v2 version 42",
			"Managed machines: 1",
			"checksum: " + hello.Checksum,
			"verify_checksum: " + hello.VerifyChecksum,
			"source: " + hello.Source,
			"on disk: present",
			"Not managed by mms (never replaced or removed): placed",
			"install hello: not installed",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("status lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("purges nothing when the key is deleted or purged", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "stay")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "DELETE", "--public-key", key.pub, "--purge", "--interval", "50ms", "--verbose")
		key.put(t, url, key.pack(t, 1, hello), "--bucket", "DELETE")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "stay") })
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		kv, err := js.KeyValue(ctx, "DELETE")
		if err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, defaultKey); err != nil {
			t.Fatal(err)
		}
		waitForLog(t, p, "specification deleted: nothing is purged")
		if err := kv.Purge(ctx, defaultKey); err != nil {
			t.Fatal(err)
		}
		// Several intervals pass with no specification: they keep verifying what the last
		// accepted one installed, and still nothing may be removed.
		testwait.Eventually(t, waitLong, "several intervals", func() bool { return strings.Count(p.stderr.String(), "interval fallback") >= 3 })
		if !fileSays(filepath.Join(dir, "hello", "greeting.txt"), "stay") {
			t.Fatal("the machine was removed after the key was deleted")
		}
		if strings.Contains(p.stderr.String(), "machine remove") {
			t.Fatalf("the agent removed a machine:\n%s", p.stderr)
		}
	})

	t.Run("refuses a specification signed by another key and changes nothing", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello, evil := arch.machine(t, "hello", "good"), arch.machine(t, "hello", "evil")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "FORGED", "--public-key", key.pub, "--purge")
		key.put(t, url, key.pack(t, 1, hello), "--bucket", "FORGED")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "good") })
		evilKey := newSigner(t)
		evilKey.put(t, url, evilKey.pack(t, 2, evil), "--bucket", "FORGED")
		waitForLog(t, p, "specification refused")
		if !fileSays(filepath.Join(dir, "hello", "greeting.txt"), "good") {
			t.Fatal("a forged specification changed the machine")
		}
	})

	t.Run("repairs a tampered machine on the interval, even after a refused specification", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "original")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "REPAIR", "--public-key", key.pub, "--interval", "100ms")
		key.put(t, url, key.pack(t, 5, hello), "--bucket", "REPAIR")
		greeting := filepath.Join(dir, "hello", "greeting.txt")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(greeting, "original") })
		key.put(t, url, key.pack(t, 4, hello), "--bucket", "REPAIR", "--force") // a rollback: refused
		waitForLog(t, p, "rollback refused")
		writeText(t, greeting, "tampered")
		testwait.Eventually(t, waitLong, "repair", func() bool { return fileSays(greeting, "original") })
		waitForLog(t, p, "machine repair")
	})

	t.Run("leaves no staging directory when stopped by SIGTERM in the middle of a download", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		slow := arch.machine(t, "slow", "never")
		started := make(chan struct{}, 1)
		arch.hook = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", "1000000")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			select {
			case started <- struct{}{}:
			default:
			}
			<-r.Context().Done() // until the agent goes away
			return true
		}
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "SIGTERM", "--public-key", key.pub)
		key.put(t, url, key.pack(t, 1, slow), "--bucket", "SIGTERM")
		select {
		case <-started:
		case <-time.After(waitLong):
			t.Fatal("the download never started")
		}
		if len(staging(t, dir)) != 1 {
			t.Fatalf("want one staging directory during the download, have %v", staging(t, dir))
		}
		if code := p.stop(t); code != 0 {
			t.Fatalf("agent exited %d after SIGTERM, want 0", code)
		}
		if s := staging(t, dir); len(s) > 0 {
			t.Fatalf("staging left behind after SIGTERM: %v", s)
		}
		if _, err := os.Stat(filepath.Join(dir, "slow")); !os.IsNotExist(err) {
			t.Fatalf("a half-downloaded machine was installed: %v", err)
		}
	})

	t.Run("refuses a negative --splay", func(t *testing.T) {
		work, dir := machinesDir(t)
		r := mms(t, work, "agent", "--dir", dir, "--server", url, "--insecure", "--splay", "-1s")
		if r.code == 0 || !strings.Contains(r.stderr, "--splay") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("refuses to start without a public key unless told --insecure", func(t *testing.T) {
		work, dir := machinesDir(t)
		r := mms(t, work, "agent", "--dir", dir, "--server", url)
		if r.code != 2 || !strings.Contains(r.stderr, "--insecure") {
			t.Fatalf("exit %d, stderr %q; want 2 naming --insecure", r.code, r.stderr)
		}
	})
}

func TestAgentReconnects(t *testing.T) {
	t.Run("resumes after the server restarts and applies a later put", func(t *testing.T) {
		srv := natsServer(t)
		url := srv.ClientURL()
		js := jsFor(t, url)
		key := newSigner(t)
		work, dir := machinesDir(t)
		arch := newArchives(t)
		v1, v2 := arch.machine(t, "hello", "before"), arch.machine(t, "hello", "after")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--interval", "500ms")
		key.put(t, url, key.pack(t, 1, v1))
		greeting := filepath.Join(dir, "hello", "greeting.txt")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(greeting, "before") })

		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		env := key.pack(t, 2, v2)
		testwait.Eventually(t, waitLong, "put after the restart", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := kvspec.Put(ctx, js, defaultBucket, defaultKey, env, kvspec.BucketConfig{})
			return err == nil
		})
		testwait.Eventually(t, waitLong, "update after the restart", func() bool { return fileSays(greeting, "after") })
		waitForLog(t, p, "NATS reconnected")
	})
}

func TestAgentEmbeddedServer(t *testing.T) {
	t.Run("starts an embedded server under the machines directory, prints its URL, and applies a put", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "embedded")
		p := startMMS(t, work, "agent", "--dir", dir, "--insecure", "--embedded-port", "0")
		re := regexp.MustCompile(`listening on (nats://127\.0\.0\.1:\d+)`)
		var url string
		testwait.Eventually(t, waitLong, "embedded server URL", func() bool {
			m := re.FindStringSubmatch(p.stdout.String())
			if m != nil {
				url = m[1]
			}
			return m != nil
		})
		list := `[{"name":"hello","source":"` + hello.Source + `","checksum":"` + hello.Checksum + `","verify_checksum":"` + hello.VerifyChecksum + `"}]`
		env, _, err := spec.Pack([]byte(list), spec.PackOptions{Format: 2, Version: 1, Issued: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		// The server is closed to anyone without the agent's credentials, which mms put
		// finds in the machines directory it is given.
		if r := mms(t, work, "get", "--server", url); r.code == 0 || !strings.Contains(r.stderr, "uthorization") {
			t.Fatalf("mms get without the credentials: exit %d, %s", r.code, r.stderr)
		}
		if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Fatal("an anonymous client connected to the embedded server")
		}
		creds := install.StatePathFor(dir, install.CredentialsName)
		if fi, err := os.Stat(creds); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("the credentials file: %v %v", fi, err)
		}
		if b, _ := os.ReadFile(creds); !strings.Contains(string(b), url) {
			t.Fatalf("the credentials file does not name %s:\n%s", url, b)
		}
		if r := mms(t, work, "put", writeFile(t, work, "spec.json", string(env)), "--dir", dir, "--unsigned"); r.code != 0 {
			t.Fatalf("mms put --dir: exit %d, %s", r.code, r.stderr)
		}
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "embedded") })
		if fi, err := os.Stat(filepath.Join(dir, natsStoreDir, "jetstream")); err != nil || !fi.IsDir() {
			t.Fatalf("JetStream data is not under %s: %v", natsStoreDir, err)
		}
		if code := p.stop(t); code != 0 {
			t.Fatalf("agent exited %d after SIGTERM, want 0", code)
		}
	})
}

func TestAgentAtBoot(t *testing.T) {
	t.Run("waits for a NATS server that is not up yet, says so, and works once it is", func(t *testing.T) {
		srv := natsServer(t)
		url := srv.ClientURL()
		srv.Shutdown() // the node boots before its NATS server
		key := newSigner(t)
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "late server")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--splay", "0s")
		waitForLog(t, p, "cannot reach the NATS server yet; retrying")
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		key.put(t, url, key.pack(t, 1, hello))
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "late server") })
		if code := p.stop(t); code != 0 {
			t.Fatalf("agent exited %d after SIGTERM, want 0", code)
		}
	})
}
