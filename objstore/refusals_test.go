package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/objstore"
)

func TestChecksums(t *testing.T) {
	e := start(t)
	signed := archive(300 << 10)
	other := archive(200 << 10)

	t.Run("refuses an object whose store digest is not the signed checksum, before reading it", func(t *testing.T) {
		url := e.publish(t, "other.tgz", other)
		var w recorder
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: url}, sum(signed), &w)
		if !errors.Is(err, errs.ErrChecksum) || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want ErrChecksum, not ErrFetch; got %v", err)
		}
		if want := "GET " + url + ": checksum mismatch: expected " + sum(signed) + " got " + sum(other) + " (the Object Store's digest of the object)"; err.Error() != want {
			t.Errorf("error %q\nwant  %q", err, want)
		}
		if w.Len() != 0 || len(w.told()) != 0 || res.Bytes != 0 || res.Attempts != 1 {
			t.Errorf("wrote %d bytes, told sizes %v, after %d attempts: want nothing read, one attempt", w.Len(), w.told(), res.Attempts)
		}
	})

	t.Run("refuses content that does not hash to the signed checksum, whatever the store's digest says", func(t *testing.T) {
		// a writer to the bucket replaced the digest to match the signed checksum, not the content
		url := e.publish(t, "forged.tgz", other)
		e.forge(t, "forged.tgz", func(i *jetstream.ObjectInfo) { i.Digest = storeDigest(signed) })
		var w bytes.Buffer
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: url}, sum(signed), &w)
		if !errors.Is(err, errs.ErrChecksum) || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want ErrChecksum, got %v", err)
		}
		if want := "GET " + url + ": checksum mismatch: expected " + sum(signed) + " got " + sum(other); err.Error() != want {
			t.Errorf("error %q\nwant  %q", err, want)
		}
		if res.SHA256 != sum(other) || res.Bytes != int64(len(other)) || res.Attempts != 1 {
			t.Errorf("result %+v: want the content's sha256 after one attempt", res)
		}
	})

	t.Run("refuses an info with no readable digest", func(t *testing.T) {
		url := e.publish(t, "no-digest.tgz", signed)
		e.forge(t, "no-digest.tgz", func(i *jetstream.ObjectInfo) { i.Digest = "MD5=abc" })
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: url}, sum(signed), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "no SHA-256 digest") || res.Attempts != 1 {
			t.Fatalf("want one attempt refused for its digest, got %d: %v", res.Attempts, err)
		}
	})
}

func TestMissing(t *testing.T) {
	e := start(t)
	data := archive(1000)
	url := e.publish(t, "web.tgz", data)

	for _, tc := range []struct {
		why      string
		prepare  func(t *testing.T) string
		sentinel error
		text     string
	}{
		{"a missing bucket", func(t *testing.T) string { return "obj://nobucket/web.tgz" }, objstore.ErrNoBucket,
			`GET obj://nobucket/web.tgz: no such Object Store bucket: the NATS account has no bucket "nobucket"`},
		{"a missing object", func(t *testing.T) string { return "obj://" + bucket + "/nothing.tgz" }, objstore.ErrNoObject,
			`GET obj://archives/nothing.tgz: no such object: bucket "archives" holds no object "nothing.tgz"`},
		{"a deleted object", func(t *testing.T) string {
			u := e.publish(t, "deleted.tgz", data)
			if err := e.store(t).Delete(context.Background(), "deleted.tgz"); err != nil {
				t.Fatal(err)
			}
			return u
		}, objstore.ErrNoObject, `GET obj://archives/deleted.tgz: no such object: object "deleted.tgz" in bucket "archives" was deleted`},
	} {
		t.Run("says so at once for "+tc.why, func(t *testing.T) {
			u := tc.prepare(t)
			var w bytes.Buffer
			res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: u}, sum(data), &w)
			if !errors.Is(err, tc.sentinel) || !errors.Is(err, errs.ErrFetch) {
				t.Fatalf("want %v matching ErrFetch, got %v", tc.sentinel, err)
			}
			if err.Error() != tc.text {
				t.Errorf("error %q\nwant  %q", err, tc.text)
			}
			if res.Attempts != 1 || w.Len() != 0 {
				t.Errorf("%d attempts, %d bytes: want one attempt (not retried), nothing written", res.Attempts, w.Len())
			}
		})
	}

	t.Run("refuses a link: the object itself must be named", func(t *testing.T) {
		info, err := e.store(t).GetInfo(context.Background(), "web.tgz")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store(t).AddLink(context.Background(), "latest.tgz", info); err != nil {
			t.Fatal(err)
		}
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: "obj://" + bucket + "/latest.tgz"}, sum(data), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "is a link to "+url) || res.Attempts != 1 {
			t.Fatalf("want one attempt refusing the link to %s, got %d: %v", url, res.Attempts, err)
		}
	})
}

func TestDenied(t *testing.T) {
	s := testnats.StartWith(t, &server.Options{
		JetStream: true,
		StoreDir:  t.TempDir(),
		Users: []*server.User{
			{Username: "publisher", Password: "pub-secret"},
			{Username: "no-api", Password: "reader-secret", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.>"}},
			}},
			{Username: "no-consumers", Password: "reader-secret", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.CONSUMER.>"}},
			}},
			{Username: "no-replies", Password: "reader-secret", Permissions: &server.Permissions{
				Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"_INBOX.>"}},
			}},
		},
	})
	as := func(user, pass string) string {
		return strings.Replace(s.ClientURL(), "nats://", "nats://"+user+":"+pass+"@", 1)
	}
	_, pubJS := testnats.Connect(t, as("publisher", "pub-secret"))
	data := archive(1000)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if _, err := objstore.Publish(ctx, pubJS, bucket, "web.tgz", bytes.NewReader(data), 1); err != nil {
		t.Fatal(err)
	}
	url := "obj://" + bucket + "/web.tgz"

	for _, tc := range []struct{ user, may, denied string }{
		{"no-api", "ask the JetStream API", `Publish to "$JS.API.STREAM.INFO.OBJ_archives"`},
		{"no-consumers", "create consumers", `Publish to "$JS.API.CONSUMER.CREATE.OBJ_archives.`},
		{"no-replies", "receive replies", `Subscription to "_INBOX.`},
	} {
		t.Run("says access is denied, without retrying, to a user who may not "+tc.may, func(t *testing.T) {
			_, js := testnats.Connect(t, as(tc.user, "reader-secret"))
			// the server does not answer a request it refuses: the refusal shows as the
			// connection's error when the request goes unanswered for ConnectTimeout
			f := newFetcher(t, js, func(o *fetch.Options) { o.ConnectTimeout = time.Second })
			var w bytes.Buffer
			res, err := f.Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &w)
			if !errors.Is(err, objstore.ErrDenied) || !errors.Is(err, errs.ErrFetch) {
				t.Fatalf("want ErrDenied matching ErrFetch, got %v", err)
			}
			if !strings.Contains(err.Error(), "Permissions Violation") || !strings.Contains(err.Error(), tc.denied) {
				t.Errorf("%q does not give the server's reason (%s)", err, tc.denied)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("%q shows a password", err)
			}
			if res.Attempts != 1 || w.Len() != 0 {
				t.Errorf("%d attempts, %d bytes: want one attempt (not retried), nothing written", res.Attempts, w.Len())
			}
		})
	}
}
