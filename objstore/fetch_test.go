package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

// The Fetcher is an archive source of the core, by method set alone.
var _ machines.Fetcher = (*objstore.Fetcher)(nil)

func TestFetch(t *testing.T) {
	e := start(t)
	data := archive(1<<20 + 12345) // several chunks of the store, several reads
	url := e.publish(t, "machines/web/1.0.tgz", data)

	t.Run("streams the object and says what it read", func(t *testing.T) {
		var w recorder
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: url}, sum(data), &w)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), data) {
			t.Fatalf("wrote %d bytes that are not the object's %d", w.Len(), len(data))
		}
		if res.Bytes != int64(len(data)) || res.SHA256 != sum(data) || res.Attempts != 1 || res.Duration <= 0 {
			t.Errorf("result %+v", res)
		}
		if got := w.told(); !slices.Equal(got, []int64{int64(len(data))}) {
			t.Errorf("ExpectSize was told %v, want [%d]", got, len(data))
		}
	})

	t.Run("accepts the checksum in upper case", func(t *testing.T) {
		if _, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: url}, strings.ToUpper(sum(data)), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("reads a name that needs escaping", func(t *testing.T) {
		odd := archive(100)
		u := e.publish(t, "a b/c?d#e%f", odd)
		if u != "obj://"+bucket+"/a%20b/c%3Fd%23e%25f" {
			t.Fatalf("URL %q", u)
		}
		var w bytes.Buffer
		if _, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: u}, sum(odd), &w); err != nil || !bytes.Equal(w.Bytes(), odd) {
			t.Fatalf("got %d bytes, %v", w.Len(), err)
		}
	})

	t.Run("reads an empty object", func(t *testing.T) {
		u := e.publish(t, "empty", nil)
		res, err := newFetcher(t, e.js).Fetch(context.Background(), fetch.Source{URL: u}, sum(nil), &bytes.Buffer{})
		if err != nil || res.Bytes != 0 || res.SHA256 != sum(nil) {
			t.Fatalf("result %+v, %v", res, err)
		}
	})

	t.Run("refuses what is not a valid request before asking the server", func(t *testing.T) {
		f := newFetcher(t, e.js)
		for _, tc := range []struct {
			why  string
			src  fetch.Source
			want string
		}{
			{"a URL that is not obj://", fetch.Source{URL: "https://host/x.tgz"}, sum(data)},
			{"a URL with userinfo", fetch.Source{URL: "obj://u:hunter2@" + bucket + "/x.tgz"}, sum(data)},
			{"a URL with a query", fetch.Source{URL: url + "?token=hunter2"}, sum(data)},
			{"a URL with no object", fetch.Source{URL: "obj://" + bucket + "/"}, sum(data)},
			{"a username", fetch.Source{URL: url, Username: "hunter2"}, sum(data)},
			{"a password", fetch.Source{URL: url, Password: "hunter2"}, sum(data)},
			{"a checksum that is not 64 hex characters", fetch.Source{URL: url}, sum(data)[:63]},
			{"a checksum that is not hex", fetch.Source{URL: url}, strings.Repeat("g", 64)},
		} {
			t.Run(tc.why, func(t *testing.T) {
				var w recorder
				res, err := f.Fetch(context.Background(), tc.src, tc.want, &w)
				if !errors.Is(err, errs.ErrInvalidSpec) || errors.Is(err, errs.ErrFetch) {
					t.Fatalf("want ErrInvalidSpec (not ErrFetch), got %v", err)
				}
				if !strings.HasPrefix(err.Error(), "GET ") || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q: want GET and no credential", err)
				}
				if res.Attempts != 0 || w.Len() != 0 {
					t.Errorf("made %d attempts and wrote %d bytes; want none", res.Attempts, w.Len())
				}
			})
		}
	})
}

func TestNew(t *testing.T) {
	e := start(t)
	t.Run("needs a connection", func(t *testing.T) {
		if _, err := objstore.New(nil, fetch.DefaultOptions(), nil); !errors.Is(err, fetch.ErrInvalidOptions) {
			t.Fatalf("want ErrInvalidOptions, got %v", err)
		}
	})
	for _, tc := range []struct {
		why    string
		mutate func(*fetch.Options)
		says   string
	}{
		{"a zero Timeout", func(o *fetch.Options) { o.Timeout = 0 }, fetch.LimitTimeout},
		{"a zero MaxBytes", func(o *fetch.Options) { o.MaxBytes = 0 }, fetch.LimitMaxBytes},
		{"a zero ConnectTimeout", func(o *fetch.Options) { o.ConnectTimeout = 0 }, "ConnectTimeout"},
		{"negative Retries", func(o *fetch.Options) { o.Retries = -1 }, "Retries"},
		{"retries with no RetryBase", func(o *fetch.Options) { o.RetryBase = 0 }, "RetryBase"},
	} {
		t.Run("refuses "+tc.why, func(t *testing.T) {
			_, err := objstore.New(e.js, testOptions(tc.mutate), nil)
			if !errors.Is(err, fetch.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want ErrInvalidOptions naming %s, got %v", tc.says, err)
			}
		})
	}
	t.Run("ignores the settings only HTTP uses", func(t *testing.T) {
		o := testOptions(func(o *fetch.Options) { o.AllowedSchemes, o.MaxRedirects, o.UserAgent = nil, -1, "two\nlines" })
		if _, err := objstore.New(e.js, o, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInstallsThroughTheCore(t *testing.T) {
	e := start(t)
	body, built := testarchive.Machine(t, "web", map[string]string{"run.sh": "#!/bin/sh\n"})
	url := e.publish(t, "web/1.0.tgz", body)
	dir := t.TempDir()
	cfg := machines.Config{
		Dir:     dir,
		Trust:   spec.Trust{InsecureAllowUnsigned: true},
		Sources: map[string]machines.Fetcher{objstore.Scheme: newFetcher(t, e.js)},
	}
	entry := spec.Entry{Name: "web", Source: url, Checksum: built.Checksum, VerifyChecksum: built.VerifyChecksum}

	rep := machines.Reconcile(context.Background(), cfg, testarchive.Envelope(t, nil, 1, time.Now().Add(-time.Minute), entry))
	if rep.Err != nil || len(rep.Results) != 1 || rep.Results[0].Failed() {
		t.Fatalf("report: %+v %+v", rep.Err, rep.Results)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "web", "run.sh")); err != nil || string(got) != "#!/bin/sh\n" {
		t.Fatalf("web/run.sh: %q, %v", got, err)
	}
}
