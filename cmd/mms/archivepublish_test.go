package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

// publishedArchiveDoc is mms.archive.v1 with --publish.
type publishedArchiveDoc struct {
	Schema    string       `json:"schema"`
	File      string       `json:"file"`
	Files     int          `json:"files"`
	Bytes     int64        `json:"bytes"`
	Entry     printedEntry `json:"entry"`
	Published struct {
		Bucket   string `json:"bucket"`
		Object   string `json:"object"`
		Source   string `json:"source"`
		Size     uint64 `json:"size"`
		Uploaded bool   `json:"uploaded"`
	} `json:"published"`
}

func TestArchivePublish(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	js := jsFor(t, url)
	work := t.TempDir()
	src := writeMachine(t, work, "web", map[string]string{"bin/run": "#!/bin/sh\necho 1\n"})
	check := func(t *testing.T, source, checksum string) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		_, err := objstore.Check(ctx, js, source, checksum)
		return err
	}
	publish := func(t *testing.T, args ...string) (publishedArchiveDoc, result) {
		t.Helper()
		r := mms(t, work, append([]string{"archive", src, "--publish", "ARCHIVES", "--server", url, "--json"}, args...)...)
		var doc publishedArchiveDoc
		if r.code == 0 {
			decodeStrict(t, r.stdout, &doc)
		}
		return doc, r
	}

	var first publishedArchiveDoc
	t.Run("uploads the archive, creating the bucket, and prints the entry with its obj:// source", func(t *testing.T) {
		doc, r := publish(t)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		want := "obj://ARCHIVES/web-" + doc.Entry.Checksum[:16] + ".tar.gz"
		if doc.Entry.Source != want || doc.Published.Source != want || !doc.Published.Uploaded || doc.Published.Size == 0 || doc.Published.Bucket != "ARCHIVES" {
			t.Fatalf("printed %+v, want source %s", doc, want)
		}
		if err := check(t, want, doc.Entry.Checksum); err != nil {
			t.Fatalf("the object is not in the store as printed: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(work, "*.tar.gz")); len(left) != 0 {
			t.Fatalf("--publish without --out wrote %v", left)
		}
		first = doc
	})

	t.Run("publishing the same archive again uploads nothing", func(t *testing.T) {
		doc, r := publish(t)
		if r.code != 0 || doc.Published.Uploaded || doc.Entry != first.Entry || !strings.Contains(r.stderr, "nothing uploaded") {
			t.Fatalf("exit %d, printed %+v: %s", r.code, doc, r.stderr)
		}
	})

	t.Run("a new release gets its own object; the old one stays for the nodes still on it", func(t *testing.T) {
		writeText(t, filepath.Join(src, "bin", "run"), "#!/bin/sh\necho 2\n")
		doc, r := publish(t)
		if r.code != 0 || doc.Entry.Source == first.Entry.Source || !doc.Published.Uploaded {
			t.Fatalf("exit %d, printed %+v: %s", r.code, doc, r.stderr)
		}
		if err := check(t, first.Entry.Source, first.Entry.Checksum); err != nil {
			t.Fatalf("the first release's object: %v", err)
		}
	})

	t.Run("refuses to replace an --object of other content unless forced", func(t *testing.T) {
		r := mms(t, work, "archive", src, "--publish", "ARCHIVES", "--server", url, "--object", first.Published.Object)
		if r.code != 1 || !strings.Contains(r.stderr, "checksum mismatch") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if err := check(t, first.Entry.Source, first.Entry.Checksum); err != nil {
			t.Fatalf("the refused publish changed the object: %v", err)
		}
		doc, r := publish(t, "--object", first.Published.Object, "--force")
		if r.code != 0 || !doc.Published.Uploaded || doc.Entry.Source != first.Entry.Source {
			t.Fatalf("forced: exit %d, printed %+v: %s", r.code, doc, r.stderr)
		}
		if err := check(t, first.Entry.Source, doc.Entry.Checksum); err != nil {
			t.Fatalf("the forced publish did not replace the object: %v", err)
		}
	})

	t.Run("says --timeout when the publish takes longer", func(t *testing.T) {
		// 1ns has passed before the connection is made: with 1ms, a quiet machine connected
		// and found the archive already published within it, and the test failed now and then.
		r := mms(t, work, "archive", src, "--publish", "ARCHIVES", "--server", url, "--timeout", "1ns")
		if r.code != 1 || !strings.Contains(r.stderr, "not done within --timeout 1ns (raise it with --timeout)") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("also writes --out when given", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "web.tgz")
		doc, r := publish(t, "--out", out)
		if r.code != 0 || sha256File(t, out) != doc.Entry.Checksum {
			t.Fatalf("exit %d, printed %+v: %s", r.code, doc, r.stderr)
		}
	})

	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"--source with --publish", []string{"--publish", "ARCHIVES", "--source", "https://h/x.tgz"}, "give one"},
		{"an invalid bucket name", []string{"--publish", "a.b"}, "invalid Object Store bucket name"},
		{"--object without --publish", []string{"--object", "x.tgz"}, "give --publish too"},
		{"zero replicas", []string{"--publish", "ARCHIVES", "--replicas", "0"}, "--replicas"},
		{"a timeout of zero", []string{"--publish", "ARCHIVES", "--timeout", "0s"}, "--timeout must be positive"},
	} {
		t.Run("refuses "+c.name+" before building anything", func(t *testing.T) {
			api := writeMachine(t, t.TempDir(), "api", nil)
			r := mms(t, work, append([]string{"archive", api, "--server", url}, c.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, c.says) {
				t.Fatalf("exit %d, want 2 (usage); stderr does not say %q: %s", r.code, c.says, r.stderr)
			}
			if _, err := os.Stat(filepath.Join(api, "SHA256SUMS")); !os.IsNotExist(err) {
				t.Fatalf("refused, but wrote SHA256SUMS (%v)", err)
			}
		})
	}
}

func TestPutChecksObjects(t *testing.T) {
	srv := natsServer(t)
	url := srv.ClientURL()
	key := newSigner(t)
	work := t.TempDir()
	src := writeMachine(t, work, "web", nil)
	r := mms(t, work, "archive", src, "--publish", "ARCHIVES", "--server", url)
	if r.code != 0 {
		t.Fatalf("archive: exit %d: %s", r.code, r.stderr)
	}
	var good spec.Entry
	decodeStrict(t, r.stdout, &good)
	put := func(t *testing.T, version int64, e spec.Entry, args ...string) result {
		t.Helper()
		file := filepath.Join(t.TempDir(), "spec.json")
		if err := os.WriteFile(file, key.pack(t, version, e), 0o644); err != nil {
			t.Fatal(err)
		}
		return mms(t, work, append([]string{"put", file, "--server", url, "--public-key", key.pub}, args...)...)
	}

	missing := good
	missing.Source = "obj://ARCHIVES/nowhere.tar.gz"
	otherBucket := good
	otherBucket.Source = "obj://ELSEWHERE/web.tar.gz"
	wrong := good
	wrong.Checksum = strings.Repeat("ab", 32)
	withCreds := good
	withCreds.Username, withCreds.Password = "ops", "secret"
	for _, c := range []struct {
		name  string
		entry spec.Entry
		says  string
	}{
		{"a missing object", missing, "no object"},
		{"a missing bucket", otherBucket, "ELSEWHERE"},
		{"an object of another checksum", wrong, "checksum mismatch"},
		{"credentials on an obj:// source", withCreds, "takes no username or password"},
	} {
		t.Run("refuses "+c.name+", naming the entry, and publishes nothing", func(t *testing.T) {
			r := put(t, 1, c.entry)
			if r.code != 1 || !strings.Contains(r.stderr, "web: ") || !strings.Contains(r.stderr, c.says) || !strings.Contains(r.stderr, "--force") {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			if _, err := jsFor(t, url).KeyValue(ctx, defaultBucket); err == nil {
				// the bucket exists only once something was published
				t.Fatal("the specification bucket was created: something was published")
			} else if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "not found") {
				t.Fatalf("looking for the bucket: %v", err)
			}
		})
	}
	t.Run("publishes a specification whose objects are there as named", func(t *testing.T) {
		if r := put(t, 2, good); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("publishes a missing object with --force", func(t *testing.T) {
		if r := put(t, 3, missing, "--force"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
}
