package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/objstore"
)

func TestPublish(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	first, second := archive(3000), archive(4000)

	t.Run("creates the bucket it needs, on file storage, with the replicas asked for", func(t *testing.T) {
		info, err := objstore.Publish(ctx, e.js, bucket, "web/1.0.tgz", bytes.NewReader(first), 1)
		if err != nil {
			t.Fatal(err)
		}
		if info.Bucket != bucket || info.Name != "web/1.0.tgz" || info.Size != uint64(len(first)) || info.Digest != storeDigest(first) {
			t.Errorf("info %+v", info)
		}
		st, err := e.store(t).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Description() != objstore.BucketDescription || st.Storage() != jetstream.FileStorage || st.Replicas() != 1 {
			t.Errorf("bucket: %q, %v, %d replicas", st.Description(), st.Storage(), st.Replicas())
		}
	})

	t.Run("puts the next archive into the same bucket", func(t *testing.T) {
		stream, err := e.js.Stream(ctx, "OBJ_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		created := stream.CachedInfo().Created
		if _, err := objstore.Publish(ctx, e.js, bucket, "web/2.0.tgz", bytes.NewReader(second), 1); err != nil {
			t.Fatal(err)
		}
		again, err := e.js.Stream(ctx, "OBJ_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		if !again.CachedInfo().Created.Equal(created) {
			t.Errorf("the bucket was made again: created %s, then %s", created, again.CachedInfo().Created)
		}
		for name, want := range map[string][]byte{"web/1.0.tgz": first, "web/2.0.tgz": second} {
			if got, err := e.store(t).GetBytes(ctx, name); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v", name, len(got), err)
			}
		}
	})

	t.Run("uses a bucket that exists as it is", func(t *testing.T) {
		if _, err := e.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "theirs", Description: "someone else's", Storage: jetstream.MemoryStorage}); err != nil {
			t.Fatal(err)
		}
		if _, err := objstore.Publish(ctx, e.js, "theirs", "x.tgz", bytes.NewReader(first), 3); err != nil {
			t.Fatal(err)
		}
		obs, err := e.js.ObjectStore(ctx, "theirs")
		if err != nil {
			t.Fatal(err)
		}
		st, err := obs.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Description() != "someone else's" || st.Storage() != jetstream.MemoryStorage || st.Replicas() != 1 {
			t.Errorf("the bucket changed: %q, %v, %d replicas", st.Description(), st.Storage(), st.Replicas())
		}
	})

	for _, tc := range []struct {
		why, bucket, name string
		replicas          int
		says              string
	}{
		{"an invalid bucket name", "arch.ives", "x.tgz", 1, "not a valid Object Store bucket name"},
		{"an empty name", bucket, "", 1, "no object"},
		{"no replicas", bucket, "x.tgz", 0, "replicas must be at least 1"},
	} {
		t.Run("refuses "+tc.why, func(t *testing.T) {
			_, err := objstore.Publish(ctx, e.js, tc.bucket, tc.name, bytes.NewReader(first), tc.replicas)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want an error saying %q, got %v", tc.says, err)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	data, other := archive(2000), archive(2001)
	url := e.publish(t, "web.tgz", data)

	t.Run("returns the info of the object the checksum names", func(t *testing.T) {
		info, err := objstore.Check(ctx, e.js, url, sum(data))
		if err != nil || info.Name != "web.tgz" || info.Size != uint64(len(data)) {
			t.Fatalf("info %+v, %v", info, err)
		}
	})

	deleted := e.publish(t, "deleted.tgz", data)
	if err := e.store(t).Delete(ctx, "deleted.tgz"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		why, url, want string
		sentinel       error
		says           []string
	}{
		{"a missing bucket", "obj://nobucket/web.tgz", sum(data), objstore.ErrNoBucket, []string{`no bucket "nobucket"`}},
		{"a missing object", "obj://" + bucket + "/nothing.tgz", sum(data), objstore.ErrNoObject, []string{`no object "nothing.tgz"`}},
		{"a deleted object", deleted, sum(data), objstore.ErrNoObject, []string{"was deleted"}},
		{"another digest", url, sum(other), errs.ErrChecksum, []string{"expected " + sum(other), "got " + sum(data)}},
		{"an invalid URL", "obj://" + bucket, sum(data), errs.ErrInvalidSpec, []string{"no object"}},
		{"a URL with a password, without showing it", "obj://u:hunter2@" + bucket + "/web.tgz", sum(data), errs.ErrInvalidSpec, []string{"userinfo"}},
		{"an invalid checksum", url, "abc", errs.ErrInvalidSpec, []string{"64 hex"}},
	} {
		t.Run("tells "+tc.why, func(t *testing.T) {
			_, err := objstore.Check(ctx, e.js, tc.url, tc.want)
			if !errors.Is(err, tc.sentinel) || !strings.HasPrefix(err.Error(), "check ") {
				t.Fatalf("want %v, got %v", tc.sentinel, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q shows the password", err)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
			for _, other := range []error{objstore.ErrNoBucket, objstore.ErrNoObject, errs.ErrChecksum, errs.ErrInvalidSpec} {
				if other != tc.sentinel && errors.Is(err, other) {
					t.Errorf("%q also matches %v", err, other)
				}
			}
		})
	}
}
