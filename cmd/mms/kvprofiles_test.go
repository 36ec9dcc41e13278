package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/nats-io/nats-server/v2/server"
)

// TestNATSContext: mms put and mms get take the server and credentials from a NATS CLI
// context, as the nats CLI does, and refuse flags that say how to connect twice.
func TestNATSContext(t *testing.T) {
	srv := testnats.StartWith(t, &server.Options{Username: "ops", Password: "s3cret", JetStream: true, StoreDir: t.TempDir()})
	home := t.TempDir()
	ctxDir := filepath.Join(home, ".config", "nats", "context")
	if err := os.MkdirAll(ctxDir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{"url": srv.ClientURL(), "user": "ops", "password": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	writeText(t, filepath.Join(ctxDir, "lab.json"), string(b))
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}

	key := newSigner(t)
	arch := newArchives(t)
	writeText(t, filepath.Join(home, "spec.json"), string(key.pack(t, 3, arch.machine(t, "hello", "hi"))))
	run := func(args ...string) result { return runCmd(t, mmsPath(t), home, nil, env, args...) }

	if r := run("put", "spec.json", "--public-key", key.pub, "--context", "lab"); r.code != 0 {
		t.Fatalf("put --context: %+v", r)
	}
	r := run("get", "--context", "lab", "--public-key", key.pub, "--json")
	var doc specDoc
	decodeStrict(t, r.stdout, &doc)
	if r.code != 0 || doc.Version != 3 || !doc.Signed {
		t.Fatalf("get --context: exit %d, %+v", r.code, doc)
	}
	if r := run("get", "--public-key", key.pub, "--server", srv.ClientURL()); r.code != 1 || !strings.Contains(r.stderr, "wants credentials") {
		t.Errorf("without the context the server wants credentials: %+v", r)
	}
	for _, bad := range [][]string{
		{"get", "--context", "nope"},
		{"get", "--context", "lab", "--dir", home},
		{"get", "--context", "lab", "--choria-config", filepath.Join(home, "spec.json")},
	} {
		if r := run(bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want a usage error: %s", bad, r.code, r.stderr)
		}
	}
}
