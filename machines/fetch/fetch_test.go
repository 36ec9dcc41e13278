package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

func TestFetchToFile(t *testing.T) {
	t.Run("downloads a body that matches its checksum into a new 0600 file", func(t *testing.T) {
		srv, hits := server(t, serve(testBody))
		path := outPath(t)
		res, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: srv.URL + "/a.tgz"}, sum(testBody), path)
		if err != nil {
			t.Fatalf("FetchToFile: %v", err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, testBody) {
			t.Fatalf("file holds %d bytes (err %v), want the %d served", len(got), err, len(testBody))
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
		if res.Bytes != int64(len(testBody)) || res.SHA256 != sum(testBody) || res.Attempts != 1 || res.Duration <= 0 {
			t.Errorf("Result %+v does not describe the download", res)
		}
		if hits.Load() != 1 {
			t.Errorf("server saw %d requests, want 1", hits.Load())
		}
	})

	t.Run("refuses to overwrite an existing file and leaves it as it was", func(t *testing.T) {
		srv, hits := server(t, serve(testBody))
		path := outPath(t)
		if err := os.WriteFile(path, []byte("operator's"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: srv.URL}, sum(testBody), path)
		if !errors.Is(err, os.ErrExist) {
			t.Fatalf("want an os.ErrExist refusal, got %v", err)
		}
		if got, _ := os.ReadFile(path); string(got) != "operator's" {
			t.Errorf("existing file changed to %q", got)
		}
		if hits.Load() != 0 {
			t.Errorf("server saw %d requests, want none", hits.Load())
		}
	})

	t.Run("refuses a 404 naming the request and the status, without retrying or leaving a file", func(t *testing.T) {
		srv, hits := server(t, http.NotFound)
		path := outPath(t)
		_, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: srv.URL + "/x.tgz"}, sum(testBody), path)
		if want := "GET " + srv.URL + "/x.tgz: 404 Not Found"; err == nil || err.Error() != want {
			t.Fatalf("error %q, want %q", err, want)
		}
		if !errors.Is(err, errs.ErrFetch) {
			t.Errorf("%v does not match ErrFetch", err)
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.StatusCode != 404 {
			t.Errorf("want *Error with StatusCode 404, got %#v", err)
		}
		if hits.Load() != 1 {
			t.Errorf("server saw %d requests, want 1", hits.Load())
		}
		assertNoFile(t, path)
	})

	t.Run("removes the file on a checksum mismatch and says both values", func(t *testing.T) {
		srv, hits := server(t, serve(testBody))
		path := outPath(t)
		want := sum([]byte("something else"))
		res, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: srv.URL}, want, path)
		if !errors.Is(err, errs.ErrChecksum) || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want ErrChecksum and not ErrFetch, got %v", err)
		}
		if !strings.Contains(err.Error(), "checksum mismatch: expected "+want+" got "+sum(testBody)) {
			t.Errorf("%q does not say both values", err)
		}
		if res.SHA256 != sum(testBody) {
			t.Errorf("Result.SHA256 %q, want what was received", res.SHA256)
		}
		if hits.Load() != 1 {
			t.Errorf("a checksum mismatch was retried: %d requests", hits.Load())
		}
		assertNoFile(t, path)
	})

	t.Run("refuses a scheme that is not allowed before connecting", func(t *testing.T) {
		path := outPath(t)
		_, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: "ftp://127.0.0.1:1/x.tgz"}, sum(testBody), path)
		want := `GET ftp://127.0.0.1:1/x.tgz: scheme "ftp" is not allowed (allowed: http, https; add it with --allow-scheme)`
		if err == nil || err.Error() != want || !errors.Is(err, errs.ErrFetch) {
			t.Fatalf("error %q, want %q matching ErrFetch", err, want)
		}
		assertNoFile(t, path)
	})

	t.Run("refuses plain http when only https is allowed", func(t *testing.T) {
		srv, hits := server(t, serve(testBody))
		f := newFetcher(t, func(o *Options) { o.AllowedSchemes = []string{"https"} })
		_, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), `scheme "http" is not allowed (allowed: https;`) {
			t.Fatalf("want a scheme refusal, got %v", err)
		}
		if hits.Load() != 0 {
			t.Errorf("server saw %d requests", hits.Load())
		}
	})

	t.Run("refuses an expected checksum that is not 64 hex characters", func(t *testing.T) {
		srv, hits := server(t, serve(testBody))
		for _, want := range []string{"", "abc", sum(testBody)[:63] + "g", sum(testBody) + "0"} {
			_, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, want, &bytes.Buffer{})
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("expected %q: want ErrInvalidSpec, got %v", want, err)
			}
		}
		if hits.Load() != 0 {
			t.Errorf("server saw %d requests", hits.Load())
		}
	})

	t.Run("accepts an expected checksum in upper case", func(t *testing.T) {
		srv, _ := server(t, serve(testBody))
		if _, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, strings.ToUpper(sum(testBody)), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("refuses a 206 partial answer: only 200 is accepted", func(t *testing.T) {
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(testBody)
		})
		var buf bytes.Buffer
		_, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &buf)
		if err == nil || !strings.HasSuffix(err.Error(), ": 206 Partial Content") {
			t.Fatalf("want a 206 refusal, got %v", err)
		}
		if buf.Len() != 0 {
			t.Errorf("the writer received %d bytes of a refused answer", buf.Len())
		}
	})
}

func TestCredentials(t *testing.T) {
	authServer := func(t *testing.T) (string, *[]string) {
		var seen []string
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok {
				seen = append(seen, "none")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			seen = append(seen, u+":"+p)
			_, _ = w.Write(testBody)
		})
		return srv.URL, &seen
	}

	t.Run("sends Username and Password as basic auth", func(t *testing.T) {
		u, seen := authServer(t)
		if _, err := newFetcher(t).Fetch(context.Background(), Source{URL: u, Username: "alice", Password: "pw"}, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(*seen, ",") != "alice:pw" {
			t.Errorf("server saw %v", *seen)
		}
	})

	t.Run("sends the URL's userinfo as basic auth", func(t *testing.T) {
		u, seen := authServer(t)
		src := Source{URL: strings.Replace(u, "://", "://bob:s%40cret@", 1)}
		if _, err := newFetcher(t).Fetch(context.Background(), src, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(*seen, ",") != "bob:s@cret" {
			t.Errorf("server saw %v", *seen)
		}
	})

	t.Run("prefers the fields over the URL's userinfo", func(t *testing.T) {
		u, seen := authServer(t)
		src := Source{URL: strings.Replace(u, "://", "://bob:old@", 1), Username: "alice", Password: "new"}
		if _, err := newFetcher(t).Fetch(context.Background(), src, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(*seen, ",") != "alice:new" {
			t.Errorf("server saw %v", *seen)
		}
	})

	t.Run("does not retry a 401", func(t *testing.T) {
		u, seen := authServer(t)
		_, err := newFetcher(t).Fetch(context.Background(), Source{URL: u}, sum(testBody), &bytes.Buffer{})
		if err == nil || !strings.HasSuffix(err.Error(), "401 Unauthorized") || len(*seen) != 1 {
			t.Fatalf("want one 401, got %v after %v", err, *seen)
		}
	})
}
