package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

// requiring packs, as a newer mms would, a v2 spec signed with key that requires features
// and holds entries.
func requiring(t testing.TB, key ed25519.PrivateKey, version int64, features []string, entries ...spec.Entry) []byte {
	t.Helper()
	if entries == nil {
		entries = []spec.Entry{}
	}
	req, _ := json.Marshal(features)
	machines, _ := json.Marshal(entries)
	payload := fmt.Sprintf(`{"version":%d,"issued":%q,"requires":%s,"machines":%s}`, version, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), req, machines)
	env, err := spec.EncodeEnvelope([]byte(payload), key)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// requiringSpec writes requiring's spec, signed with priv (hex), in dir and returns its path.
func requiringSpec(t *testing.T, dir, name, priv string, version int64, features []string, entries ...spec.Entry) string {
	t.Helper()
	key, err := spec.LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, string(requiring(t, key, version, features, entries...)))
}

func TestPackRequireFlag(t *testing.T) {
	dir := t.TempDir()
	_, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", machinesFile)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"refuses a feature this mms does not know: no node running it could accept the spec",
			[]string{"--require", "teleport"}, []string{`--require teleport: this mms does not know the feature (it knows keyring, rollout)`, "no node running it could accept the spec"}},
		{"refuses a feature name that is not lower-case",
			[]string{"--require", "Rollout"}, []string{`--require "Rollout": a feature name must match ^[a-z][a-z0-9_-]{0,63}$`}},
		{"refuses an empty feature name", []string{"--require", ""}, []string{`--require "": a feature name must match`}},
		{"refuses --require with --format v1, which has no place for it",
			[]string{"--format", "v1", "--require", "teleport"}, []string{"--require needs --format v2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mms(t, dir, append([]string{"pack", "machines.json", priv}, tc.args...)...)
			if r.code != 2 || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
		})
	}
}

func TestVerifyRequires(t *testing.T) {
	dir := t.TempDir()
	pub, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", machinesFile)

	t.Run("shows no requirement for a v2 spec without the field, which opens", func(t *testing.T) {
		r := mms(t, dir, "pack", "machines.json", priv)
		if r.code != 0 {
			t.Fatalf("pack: exit %d %s", r.code, r.stderr)
		}
		writeFile(t, dir, "plain.json", r.stdout)
		v := mms(t, dir, "verify", "plain.json", pub)
		if v.code != 0 || strings.Contains(v.stdout, "Requires") {
			t.Fatalf("verify: %+v", v)
		}
		j := mms(t, dir, "verify", "plain.json", pub, "--json")
		var doc specDoc
		decodeStrict(t, j.stdout, &doc)
		if j.code != 0 || doc.Requires == nil || len(doc.Requires) != 0 || !strings.Contains(j.stdout, `"requires": []`) {
			t.Fatalf("verify --json: %+v\n%s", doc, j.stdout)
		}
	})
	t.Run("refuses a spec requiring two unknown features, naming both (exit 1, nothing on stdout)", func(t *testing.T) {
		p := requiringSpec(t, dir, "newer.json", priv, 7, []string{"second-signature", "teleport"})
		for _, args := range [][]string{{"verify", p, pub}, {"verify", p, pub, "--json"}} {
			r := mms(t, dir, args...)
			if r.code != 1 || r.stdout != "" {
				t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{"unsupported specification", `features "second-signature" and "teleport", which this mms does not know`, "this node's mms is older than the specification needs"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%v: stderr %q does not say %q", args, r.stderr, want)
				}
			}
		}
	})
}

// TestApplyRefusesUnknownFeatures installs a machine with mms apply, then applies a spec
// that omits it but requires a feature this mms does not know: refused, saying which, and
// nothing in the directory changes.
func TestApplyRefusesUnknownFeatures(t *testing.T) {
	work, serve, dir := t.TempDir(), t.TempDir(), t.TempDir()
	srv := archiveServer(t, serve)
	pub, priv := keyPair(t, work)
	web := archiveEntry(t, writeMachine(t, filepath.Join(work, "src"), "web", map[string]string{"a.txt": "a\n"}), "web", serve, "web-1.tgz", srv.URL)
	if r := mms(t, work, "apply", packSpec(t, work, priv, 1, web), "--dir", dir, "--public-key", pub); r.code != 0 {
		t.Fatalf("apply: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	before := dirSnapshot(t, dir)
	newer := requiringSpec(t, work, "newer.json", priv, 2, []string{"teleport"})
	for _, args := range [][]string{{"--dry-run"}, {}, {"--json"}} {
		r := mms(t, work, append([]string{"apply", newer, "--dir", dir, "--public-key", pub}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, `unsupported specification: it requires feature "teleport"`) || !strings.Contains(r.stderr, "older than the specification needs") {
			t.Fatalf("apply %v: exit %d: %s%s", args, r.code, r.stdout, r.stderr)
		}
		if len(args) == 1 && args[0] == "--json" && !strings.Contains(r.stdout, `"refused": "unsupported specification: it requires feature \"teleport\"`) {
			t.Errorf("apply --json: %s", r.stdout)
		}
		sameTree(t, fmt.Sprintf("apply %v", args), dirSnapshot(t, dir), before)
	}
}

// TestNATSHostsRefuseUnknownFeatures: mms put will not publish a spec requiring a feature this
// mms does not know, mms get will not show one a newer mms published, and a running mms agent
// refuses it, saying which feature, and purges nothing it omits.
func TestNATSHostsRefuseUnknownFeatures(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	key := newSigner(t)
	arch := newArchives(t)
	hello := arch.machine(t, "hello", "kept")
	newer := requiring(t, key.priv, 2, []string{"teleport"})

	t.Run("mms put refuses it and publishes nothing", func(t *testing.T) {
		dir := t.TempDir()
		file := writeFile(t, dir, "newer.json", string(newer))
		r := mms(t, dir, "put", file, "--server", url, "--bucket", "NEWERPUT", "--public-key", key.pub)
		if r.code != 1 || !strings.Contains(r.stderr, `unsupported specification: it requires feature "teleport"`) {
			t.Fatalf("put: %+v", r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if _, err := kvspec.Get(ctx, js, "NEWERPUT", defaultKey); !errors.Is(err, kvspec.ErrNoBucket) {
			t.Fatalf("something was published: %v", err)
		}
	})
	t.Run("mms agent refuses it, naming the feature, and purges nothing", func(t *testing.T) {
		work, dir := machinesDir(t)
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--bucket", "NEWER", "--public-key", key.pub, "--purge", "--splay", "0")
		key.put(t, url, key.pack(t, 1, hello), "--bucket", "NEWER")
		greeting := filepath.Join(dir, "hello", "greeting.txt")
		testwait.Eventually(t, waitLong, "install", func() bool { return fileSays(greeting, "kept") })
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if _, err := kvspec.Put(ctx, js, "NEWER", defaultKey, newer, kvspec.BucketConfig{}); err != nil {
			t.Fatal(err) // as a newer mms put would publish it
		}
		waitForLog(t, p, `it requires feature \"teleport\", which this mms does not know`)
		if !fileSays(greeting, "kept") {
			t.Fatal("a spec requiring an unknown feature purged the machine it omits")
		}
		t.Run("mms get refuses to show it, naming the feature", func(t *testing.T) {
			g := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "NEWER", "--public-key", key.pub)
			if g.code != 1 || g.stdout != "" || !strings.Contains(g.stderr, `it requires feature "teleport", which this mms does not know`) {
				t.Fatalf("get: %+v", g)
			}
		})
	})
}

// TestRequireRoundTrip builds an mms that knows the test feature "mms-test" (-tags
// mms_test_features): its mms pack --require writes the feature into the spec, its mms verify
// shows it in text and JSON, and a plain mms, which does not know it, refuses the spec.
func TestRequireRoundTrip(t *testing.T) {
	bin := featuresMMS(t)
	dir := t.TempDir()
	pub, priv := keyPair(t, dir)
	writeFile(t, dir, "machines.json", machinesFile)
	newer := func(args ...string) result { return runCmd(t, bin, dir, nil, nil, args...) }

	r := newer("pack", "machines.json", priv, "--require", "mms-test")
	if r.code != 0 {
		t.Fatalf("pack --require mms-test: exit %d %s", r.code, r.stderr)
	}
	writeFile(t, dir, "spec.json", r.stdout)
	t.Run("the payload holds the requires list", func(t *testing.T) {
		env, err := spec.DecodeEnvelope([]byte(r.stdout))
		if err != nil || !strings.Contains(string(env.Payload), `"requires":["mms-test"]`) {
			t.Fatalf("payload %s, %v", env.Payload, err)
		}
	})
	t.Run("verify shows it in text", func(t *testing.T) {
		v := newer("verify", "spec.json", pub)
		if v.code != 0 || !hasLine(v.stdout, `   Requires: mms-test`) {
			t.Fatalf("verify: %+v", v)
		}
	})
	t.Run("verify --json shows it", func(t *testing.T) {
		j := newer("verify", "spec.json", pub, "--json")
		var doc specDoc
		decodeStrict(t, j.stdout, &doc)
		if j.code != 0 || !reflect.DeepEqual(doc.Requires, []string{"mms-test"}) || !doc.Admissible {
			t.Fatalf("verify --json: %+v\n%s", doc, j.stdout)
		}
	})
	t.Run("an mms that does not know the feature refuses the spec, naming it", func(t *testing.T) {
		v := mms(t, dir, "verify", "spec.json", pub)
		if v.code != 1 || !strings.Contains(v.stderr, `feature "mms-test", which this mms does not know`) {
			t.Fatalf("plain verify: %+v", v)
		}
	})
	t.Run("pack refuses a known feature given twice", func(t *testing.T) {
		d := newer("pack", "machines.json", priv, "--require", "mms-test", "--require", "mms-test")
		if d.code != 2 || !strings.Contains(d.stderr, "--require mms-test is given twice") {
			t.Fatalf("pack: %+v", d)
		}
	})
	t.Run("pack --format v1 still refuses it", func(t *testing.T) {
		d := newer("pack", "machines.json", priv, "--format", "v1", "--require", "mms-test")
		if d.code != 2 || !strings.Contains(d.stderr, "--require needs --format v2") {
			t.Fatalf("pack: %+v", d)
		}
	})
}
