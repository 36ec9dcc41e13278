package kvspec

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestPut(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.ClientURL())

	t.Run("creates a missing bucket with the requested history and description", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		rev, err := Put(ctx, js, "hist", "spec", []byte("v1"), BucketConfig{History: 5, Description: "mms specs"})
		if err != nil {
			t.Fatal(err)
		}
		if rev != 1 {
			t.Fatalf("first revision %d, want 1", rev)
		}
		kv, err := js.KeyValue(ctx, "hist")
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.History() != 5 {
			t.Fatalf("history %d, want 5", st.History())
		}
		if d := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Description; d != "mms specs" {
			t.Fatalf("description %q", d)
		}
	})

	t.Run("defaults to a history of 10 and one replica", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		if _, err := Put(ctx, js, "defaults", "spec", []byte("v1"), BucketConfig{}); err != nil {
			t.Fatal(err)
		}
		kv, _ := js.KeyValue(ctx, "defaults")
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.History() != DefaultHistory {
			t.Fatalf("history %d, want %d", st.History(), DefaultHistory)
		}
		if r := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; r != 1 {
			t.Fatalf("replicas %d, want 1", r)
		}
	})

	t.Run("keeps an existing bucket's configuration and returns growing revisions", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		r1, err := Put(ctx, js, "hist", "spec", []byte("v2"), BucketConfig{History: 2})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Put(ctx, js, "hist", "spec", []byte("v3"), BucketConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if r2 <= r1 {
			t.Fatalf("revisions did not grow: %d then %d", r1, r2)
		}
		kv, _ := js.KeyValue(ctx, "hist")
		st, _ := kv.Status(ctx)
		if st.History() != 5 {
			t.Fatalf("history changed to %d", st.History())
		}
	})

	t.Run("refuses a history or replica count JetStream cannot keep", func(t *testing.T) {
		for _, c := range []BucketConfig{{History: 65}, {History: -1}, {Replicas: 6}, {Replicas: -1}} {
			_, err := Put(testCtx(t, waitFor), js, "refused", "spec", []byte("v"), c)
			if !errors.Is(err, ErrBucketConfig) {
				t.Fatalf("%+v: want ErrBucketConfig, got %v", c, err)
			}
		}
	})
}

func TestGet(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.ClientURL())
	rev := mustPut(t, js, "b", "spec", "hello")

	t.Run("returns the value, revision and creation time", func(t *testing.T) {
		e, err := Get(testCtx(t, waitFor), js, "b", "spec")
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Value) != "hello" || e.Revision != rev || e.Created.IsZero() {
			t.Fatalf("got %+v, want hello at revision %d", e, rev)
		}
	})

	t.Run("says ErrNotFound with the bucket and key for a missing key", func(t *testing.T) {
		_, err := Get(testCtx(t, waitFor), js, "b", "missing")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
		if !strings.Contains(err.Error(), "get b/missing") {
			t.Fatalf("error does not name the operation, bucket and key: %v", err)
		}
	})

	t.Run("says ErrNotFound for a deleted and for a purged key", func(t *testing.T) {
		ctx := testCtx(t, waitFor)
		kv, _ := js.KeyValue(ctx, "b")
		mustPut(t, js, "b", "deleted", "x")
		mustPut(t, js, "b", "purged", "x")
		if err := kv.Delete(ctx, "deleted"); err != nil {
			t.Fatal(err)
		}
		if err := kv.Purge(ctx, "purged"); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"deleted", "purged"} {
			if _, err := Get(ctx, js, "b", k); !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: want ErrNotFound, got %v", k, err)
			}
		}
	})

	t.Run("says ErrNoBucket for a missing bucket", func(t *testing.T) {
		_, err := Get(testCtx(t, waitFor), js, "nobucket", "spec")
		if !errors.Is(err, ErrNoBucket) {
			t.Fatalf("want ErrNoBucket, got %v", err)
		}
		if errors.Is(err, ErrNotFound) {
			t.Fatalf("a missing bucket is not a missing key: %v", err)
		}
	})
}

func TestHistory(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.ClientURL())
	ctx := testCtx(t, waitFor)

	t.Run("returns the kept revisions newest first, without deletions", func(t *testing.T) {
		for _, v := range []string{"v1", "v2"} {
			if _, err := Put(ctx, js, "hist", "spec", []byte(v), BucketConfig{History: 5}); err != nil {
				t.Fatal(err)
			}
		}
		kv, err := js.KeyValue(ctx, "hist")
		if err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, "spec"); err != nil {
			t.Fatal(err)
		}
		if _, err := Put(ctx, js, "hist", "spec", []byte("v3"), BucketConfig{}); err != nil {
			t.Fatal(err)
		}
		got, err := History(ctx, js, "hist", "spec")
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for _, e := range got {
			values = append(values, string(e.Value))
		}
		if strings.Join(values, ",") != "v3,v2,v1" || got[0].Revision <= got[1].Revision {
			t.Fatalf("history %v", got)
		}
	})
	t.Run("says when the bucket does not exist", func(t *testing.T) {
		if _, err := History(ctx, js, "nobucket", "spec"); !errors.Is(err, ErrNoBucket) {
			t.Fatalf("got %v", err)
		}
	})
}
