package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
)

func TestPutAndGetCommands(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	key := newSigner(t)
	arch := newArchives(t)
	hello := arch.machine(t, "hello", "hi")

	// published reports what the bucket holds under the default key.
	published := func(t *testing.T, bucket string) (kvspec.Entry, error) {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		return kvspec.Get(ctx, js, bucket, defaultKey)
	}
	// run runs mms with a file holding content as its second argument.
	run := func(t *testing.T, content []byte, cmd string, args ...string) result {
		dir := t.TempDir()
		file := filepath.Join(dir, "spec.json")
		if err := os.WriteFile(file, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return mms(t, dir, append([]string{cmd, file, "--server", url}, args...)...)
	}

	t.Run("refuses an invalid specification and publishes nothing", func(t *testing.T) {
		for name, content := range map[string]string{
			"not JSON":       "{not json",
			"a bad checksum": `{"machines":"` + b64(`[{"name":"x","source":"http://h/x.tgz","checksum":"nothex","verify_checksum":"`+hello.VerifyChecksum+`"}]`) + `"}`,
			"a bad name":     `{"machines":"` + b64(`[{"name":"../x","source":"http://h/x.tgz","checksum":"`+hello.Checksum+`","verify_checksum":"`+hello.VerifyChecksum+`"}]`) + `"}`,
			"a bad matcher":  `{"machines":"` + b64(`[{"name":"x","source":"http://h/x.tgz","checksum":"`+hello.Checksum+`","verify_checksum":"`+hello.VerifyChecksum+`","match":"identity("}]`) + `"}`,
		} {
			r := run(t, []byte(content), "put", "--bucket", "INVALID", "--unsigned")
			if r.code != 1 {
				t.Errorf("%s: exit %d, want 1; stderr %q", name, r.code, r.stderr)
			}
		}
		if _, err := published(t, "INVALID"); !errors.Is(err, kvspec.ErrNoBucket) {
			t.Fatalf("something was published: %v", err)
		}
	})

	t.Run("refuses a signature that no given public key verifies", func(t *testing.T) {
		forged := newSigner(t).pack(t, 1, hello)
		r := run(t, forged, "put", "--bucket", "SIGNED", "--public-key", key.pub)
		if r.code != 1 || !strings.Contains(r.stderr, "signature") {
			t.Fatalf("exit %d, stderr %q; want 1 and a signature refusal", r.code, r.stderr)
		}
		unsigned := run(t, []byte(`{"machines":"`+b64(`[]`)+`"}`), "put", "--bucket", "SIGNED", "--public-key", key.pub)
		if unsigned.code != 1 {
			t.Fatalf("an unsigned spec was published despite --public-key: exit %d", unsigned.code)
		}
		if _, err := published(t, "SIGNED"); !errors.Is(err, kvspec.ErrNoBucket) {
			t.Fatalf("something was published: %v", err)
		}
	})

	t.Run("publishes a verified specification that mms get returns byte for byte and verifies", func(t *testing.T) {
		env := key.pack(t, 7, hello)
		r := run(t, append(env, '\n'), "put", "--bucket", "ROUND", "--public-key", key.pub, "--history", "3")
		if r.code != 0 || !strings.Contains(r.stdout, "Published ROUND/machines revision 1: v2 version 7, signature verified, 1 entries") {
			t.Fatalf("put: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		got, err := published(t, "ROUND")
		if err != nil || string(got.Value) != string(env) {
			t.Fatalf("stored %q (%v), want %q", got.Value, err, env)
		}
		raw := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "ROUND", "--raw")
		if raw.code != 0 || raw.stdout != string(env)+"\n" {
			t.Fatalf("get --raw: exit %d, %q", raw.code, raw.stdout)
		}
		dec := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "ROUND", "--public-key", key.pub)
		for _, want := range []string{"revision 1", "Version: 7", "Signature: verified by key " + key.pub, "checksum: " + hello.Checksum, "source: " + hello.Source} {
			if !strings.Contains(dec.stdout, want) {
				t.Errorf("get lacks %q:\n%s", want, dec.stdout)
			}
		}
		if dec.code != 0 {
			t.Fatalf("get exited %d: %s", dec.code, dec.stderr)
		}
		j := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "ROUND", "--public-key", key.pub, "--json")
		var doc specDoc
		decodeStrict(t, j.stdout, &doc)
		if j.code != 0 || doc.Schema != "mms.get.v1" || doc.KV == nil || doc.KV.Bucket != "ROUND" || doc.KV.Revision != 1 || doc.Version != 7 || !doc.Signed || doc.Entries[0].Checksum != hello.Checksum {
			t.Fatalf("get --json: exit %d, %+v", j.code, doc)
		}
		if r := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "ROUND", "--raw", "--json"); r.code != 2 {
			t.Errorf("get --raw --json: exit %d, want a usage error", r.code)
		}
		wrong := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "ROUND", "--public-key", newSigner(t).pub)
		if wrong.code != 1 {
			t.Fatalf("get verified with the wrong key: exit %d", wrong.code)
		}
	})

	t.Run("refuses to publish a version nodes would refuse as a rollback, unless forced", func(t *testing.T) {
		key.put(t, url, key.pack(t, 10, hello), "--bucket", "ROLLBACK")
		r := run(t, key.pack(t, 9, hello), "put", "--bucket", "ROLLBACK", "--public-key", key.pub)
		if r.code != 1 || !strings.Contains(r.stderr, "rollback") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("exit %d, stderr %q; want a rollback refusal naming --force", r.code, r.stderr)
		}
		if got, _ := published(t, "ROLLBACK"); got.Revision != 1 {
			t.Fatalf("revision %d published, want only 1", got.Revision)
		}
		key.put(t, url, key.pack(t, 9, hello), "--bucket", "ROLLBACK", "--force")
		key.put(t, url, key.pack(t, 11, hello), "--bucket", "ROLLBACK")
	})

	t.Run("refuses to publish without a public key unless told --unsigned", func(t *testing.T) {
		r := run(t, key.pack(t, 1, hello), "put", "--bucket", "NOKEY")
		if r.code != 2 || !strings.Contains(r.stderr, "no --public-key given") || !strings.Contains(r.stderr, "--unsigned") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if _, err := published(t, "NOKEY"); !errors.Is(err, kvspec.ErrNoBucket) {
			t.Fatalf("something was published: %v", err)
		}
		u := run(t, []byte(`{"machines":"`+b64(`[]`)+`"}`), "put", "--bucket", "NOKEY", "--unsigned")
		if u.code != 0 || !strings.Contains(u.stderr, "--unsigned: the signature was not checked") {
			t.Fatalf("--unsigned: exit %d, stderr %q", u.code, u.stderr)
		}
	})

	t.Run("a value no given key signed does not block a publish, whatever its version", func(t *testing.T) {
		// Anyone who may write the key (and holds no signing key) writes, unsigned, the highest
		// version a specification issued now may carry.
		now := time.Now()
		huge := fmt.Sprintf(`{"version":%d,"issued":%q,"machines":[]}`, spec.VersionAt(now.Add(spec.MaxVersionLead)), now.Format(time.RFC3339))
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		if _, err := kvspec.Put(ctx, jsFor(t, url), "FREEZE", defaultKey, []byte(`{"machines":"`+b64(huge)+`"}`), kvspec.BucketConfig{}); err != nil {
			t.Fatal(err)
		}
		r := run(t, key.pack(t, 5, hello), "put", "--bucket", "FREEZE", "--public-key", key.pub)
		if r.code != 0 || !strings.Contains(r.stderr, "does not bind") {
			t.Fatalf("the operator's publish: exit %d, stderr %q", r.code, r.stderr)
		}
		if got, _ := published(t, "FREEZE"); got.Revision != 2 {
			t.Fatalf("revision %d published, want 2", got.Revision)
		}
	})

	t.Run("get says so when nothing is published", func(t *testing.T) {
		r := mms(t, t.TempDir(), "get", "--server", url, "--bucket", "EMPTY")
		if r.code != 1 || !strings.Contains(r.stderr, "bucket not found") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// b64 encodes a payload for a hand-made envelope.
func b64(payload string) string { return base64.StdEncoding.EncodeToString([]byte(payload)) }

// TestPutRefusesFeaturesReportingNodesLack: mms put will not publish a staged specification
// while a node reporting to the status bucket does not know rollouts, unless told
// --force-features; offline nodes are not counted, and a bucket that cannot be read is said.
func TestPutRefusesFeaturesReportingNodesLack(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	dir := t.TempDir()
	pub, priv := keyPair(t, dir)
	pack := func(name, machines string) string {
		writeFile(t, dir, name+".machines.json", machines)
		p := mms(t, dir, "pack", name+".machines.json", priv)
		if p.code != 0 {
			t.Fatalf("pack %s: %+v", name, p)
		}
		return writeFile(t, dir, name+".json", p.stdout)
	}
	staged, plain := pack("staged", stagedMachines), pack("plain", machinesFile)
	put := func(bucket, file string, args ...string) result {
		return mms(t, dir, append([]string{"put", file, "--server", url, "--public-key", pub, "--bucket", bucket}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	// report publishes a node's status as the node does, to its own key.
	report := func(bucket, id string, features []string, at time.Time) {
		t.Helper()
		st := (&fleet.Reporter{Identity: id, Host: "mms agent", Version: "v0.9.0"}).Status(at)
		st.Features = features
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "$KV."+bucket+"."+fleet.Key(id), data); err != nil {
			t.Fatal(err)
		}
	}
	old := []string{"format-v1", "format-v2"}

	t.Run("without a status bucket it warns that it could not check, and publishes", func(t *testing.T) {
		r := put("NOSTATUS", staged, "--status-bucket", "NODES_NONE")
		if r.code != 0 || !strings.Contains(r.stderr, "warning: no status bucket NODES_NONE (no node has reported yet): could not check that every node knows rollout") {
			t.Fatalf("put: %+v", r)
		}
		e := put("NOSTATUS2", staged, "--status-bucket", "")
		if e.code != 0 || !strings.Contains(e.stderr, "warning: no --status-bucket: could not check that every node knows rollout") {
			t.Fatalf("put --status-bucket '': %+v", e)
		}
	})

	if err := fleet.EnsureBucket(ctx, js, fleet.BucketConfig("NODES", 1, 0)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	report("NODES", "new1", fleet.Features, now)
	report("NODES", "old1", old, now)
	report("NODES", "old2", nil, now)
	report("NODES", "gone1", old, now.Add(-time.Hour)) // offline: three heartbeats are long past

	t.Run("refuses while reporting nodes lack rollout, naming them, not the offline ones", func(t *testing.T) {
		r := put("STAGED", staged, "--status-bucket", "NODES")
		for _, want := range []string{
			"2 of the 3 nodes reporting to NODES do not know rollout, which the specification requires, and would refuse it as a whole",
			"old1 (mms agent v0.9.0, without rollout); old2 (mms agent v0.9.0, without rollout); upgrade their mms, or publish anyway with --force-features",
			"note: 1 nodes of NODES are offline (no status within its freshness) and were not checked for rollout",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("put lacks %q: %+v", want, r)
			}
		}
		if r.code != 1 || strings.Contains(r.stderr, "new1") || strings.Contains(r.stderr, "gone1 (") {
			t.Fatalf("put: %+v", r)
		}
		if got, err := kvspec.Get(ctx, js, "STAGED", defaultKey); !errors.Is(err, kvspec.ErrNoBucket) {
			t.Fatalf("published %+v, %v", got, err)
		}
	})

	t.Run("--force does not imply --force-features", func(t *testing.T) {
		if r := put("STAGED", staged, "--status-bucket", "NODES", "--force"); r.code != 1 || !strings.Contains(r.stderr, "--force-features") {
			t.Fatalf("put --force: %+v", r)
		}
	})

	t.Run("publishes a specification without a policy to any node", func(t *testing.T) {
		if r := put("PLAIN", plain, "--status-bucket", "NODES"); r.code != 0 || strings.Contains(r.stderr, "rollout") {
			t.Fatalf("put: %+v", r)
		}
	})

	t.Run("--force-features publishes past the check", func(t *testing.T) {
		r := put("STAGED", staged, "--status-bucket", "NODES", "--force-features")
		if r.code != 0 || !strings.Contains(r.stdout, "Published STAGED/machines revision 1") {
			t.Fatalf("put --force-features: %+v", r)
		}
	})

	t.Run("names ten nodes, then how many more", func(t *testing.T) {
		for i := range 12 {
			report("NODES", fmt.Sprintf("older%02d", i), old, now)
		}
		r := put("MANY", staged, "--status-bucket", "NODES")
		if r.code != 1 || !strings.Contains(r.stderr, "14 of the 15 nodes reporting to NODES") || !strings.Contains(r.stderr, "older07 (mms agent v0.9.0, without rollout) and 4 more; upgrade") {
			t.Fatalf("put: %+v", r)
		}
	})

	t.Run("publishes once every reporting node knows rollout, the offline ones aside", func(t *testing.T) {
		if err := fleet.EnsureBucket(ctx, js, fleet.BucketConfig("UPGRADED", 1, 0)); err != nil {
			t.Fatal(err)
		}
		report("UPGRADED", "new1", fleet.Features, now)
		report("UPGRADED", "gone1", old, now.Add(-time.Hour))
		r := put("UPGRADED_SPEC", staged, "--status-bucket", "UPGRADED")
		if r.code != 0 || !strings.Contains(r.stderr, "note: 1 nodes of UPGRADED are offline") {
			t.Fatalf("put: %+v", r)
		}
	})
}
