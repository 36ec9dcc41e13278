package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/internal/testwait"
	"github.com/nats-io/nats-server/v2/server"
)

// TestAgentLogs: the agent says who it is at start, in the format asked for, and --quiet
// keeps only warnings and errors.
func TestAgentLogs(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	key := newSigner(t)

	t.Run("--log-format json: every line is one JSON object, the first says who the node is", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--identity", "web7", "--bucket", "LOGS", "--log-format", "json")
		key.put(t, url, key.pack(t, 2, hello), "--bucket", "LOGS")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "hi") })
		waitForLog(t, p, `"msg":"reconciled"`)
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		var first map[string]any
		for i, line := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("line %d is not JSON: %q", i+1, line)
			}
			if i == 0 {
				first = rec
			}
		}
		want := map[string]any{"msg": "mms agent starting", "level": "INFO", "identity": "web7", "identity_from": "--identity", "facts": "none",
			"trusted_keys": key.pub, "dir": dir, "server": url, "bucket": "LOGS", "key": "machines", "purge": false, "unsigned_allowed": false}
		for k, v := range want {
			if first[k] != v {
				t.Errorf("the first line's %s is %v, want %v (%v)", k, first[k], v, first)
			}
		}
	})

	t.Run("--quiet logs no info lines; --quiet with --verbose is a usage error", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--bucket", "QUIET", "--quiet")
		key.put(t, url, key.pack(t, 2, hello), "--bucket", "QUIET")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "hi") })
		p.stop(t)
		if strings.Contains(p.stderr.String(), "level=INFO") {
			t.Errorf("--quiet logged info lines:\n%s", p.stderr)
		}
		if r := mms(t, work, "agent", "--dir", dir, "--server", url, "--quiet", "--verbose", "--public-key", key.pub); r.code != 2 {
			t.Errorf("--quiet --verbose: exit %d, want 2: %s", r.code, r.stderr)
		}
		if r := mms(t, work, "agent", "--dir", dir, "--server", url, "--status-heartbeat", "1ms", "--public-key", key.pub); r.code != 2 || !strings.Contains(r.stderr, "--status-heartbeat") {
			t.Errorf("--status-heartbeat 1ms: exit %d, want 2: %s", r.code, r.stderr)
		}
		if r := mms(t, work, "agent", "--dir", dir, "--server", url, "--status-bucket", "A.B", "--public-key", key.pub); r.code != 2 || !strings.Contains(r.stderr, "invalid bucket name") {
			t.Errorf("--status-bucket A.B: exit %d, want 2: %s", r.code, r.stderr)
		}
	})

	t.Run("--inbox-prefix: the node's inboxes carry its own prefix, and it installs as before", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		hello := arch.machine(t, "hello", "hi")
		startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--bucket", "INBOX", "--inbox-prefix", "_INBOX_web7")
		key.put(t, url, key.pack(t, 2, hello), "--bucket", "INBOX")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(filepath.Join(dir, "hello", "greeting.txt"), "hi") })
		found := false
		testwait.Eventually(t, waitLong, "a subscription under the prefix", func() bool {
			subs, err := srv.NATS().Subsz(&server.SubszOptions{Subscriptions: true})
			if err != nil {
				return false
			}
			for _, s := range subs.Subs {
				found = found || strings.HasPrefix(s.Subject, "_INBOX_web7.")
			}
			return found
		})
	})
}
