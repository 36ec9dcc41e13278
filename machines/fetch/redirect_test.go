package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

// chain serves /r/N as a redirect to /r/N-1 and /r/0 as the body.
func chain(t *testing.T) string {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			_, _ = w.Write(testBody)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
	})
	return srv.URL
}

// authLog records the Authorization header of every request a server receives.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (a *authLog) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := r.Header.Get("Authorization")
	if h == "" {
		h = "none"
	}
	a.seen = append(a.seen, r.URL.Path+"="+h)
}

func (a *authLog) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.seen, ",")
}

func TestRedirects(t *testing.T) {
	t.Run("follows a redirect chain within MaxRedirects", func(t *testing.T) {
		u := chain(t)
		var buf bytes.Buffer
		if _, err := newFetcher(t, func(o *Options) { o.MaxRedirects = 3 }).Fetch(context.Background(), Source{URL: u + "/r/3"}, sum(testBody), &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), testBody) {
			t.Errorf("received %d bytes", buf.Len())
		}
	})

	t.Run("refuses a chain longer than MaxRedirects, naming the limit, without retrying", func(t *testing.T) {
		u := chain(t)
		res, err := newFetcher(t, func(o *Options) { o.MaxRedirects = 3 }).Fetch(context.Background(), Source{URL: u + "/r/4"}, sum(testBody), &bytes.Buffer{})
		var le *errs.LimitError
		if !errors.As(err, &le) || le.Name != LimitMaxRedirects || le.Limit != 3 || errors.Is(err, errs.ErrFetch) {
			t.Fatalf("want a max_redirects limit of 3, got %v", err)
		}
		if !strings.Contains(err.Error(), "max_redirects limit") || res.Attempts != 1 {
			t.Errorf("%q (attempts %d) should name the limit, after one attempt", err, res.Attempts)
		}
	})

	t.Run("follows no redirect when MaxRedirects is 0", func(t *testing.T) {
		u := chain(t)
		f := newFetcher(t, func(o *Options) { o.MaxRedirects = 0 })
		if _, err := f.Fetch(context.Background(), Source{URL: u + "/r/0"}, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatalf("a direct answer failed: %v", err)
		}
		if _, err := f.Fetch(context.Background(), Source{URL: u + "/r/1"}, sum(testBody), &bytes.Buffer{}); !errors.Is(err, errs.ErrLimit) {
			t.Fatalf("want a limit error for one redirect, got %v", err)
		}
	})

	t.Run("refuses a redirect from https to http", func(t *testing.T) {
		plain, plainHits := server(t, serve(testBody))
		secure, _ := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL+"/a.tgz", http.StatusFound)
		})
		f := newFetcher(t, func(o *Options) { o.RootCAs = secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs })
		res, err := f.Fetch(context.Background(), Source{URL: secure.URL + "/a.tgz"}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "downgrades https to http") {
			t.Fatalf("want a downgrade refusal, got %v", err)
		}
		if plainHits.Load() != 0 || res.Attempts != 1 {
			t.Errorf("plain server saw %d requests after %d attempts; want 0 after 1", plainHits.Load(), res.Attempts)
		}
	})

	t.Run("refuses a redirect to a scheme that is not allowed", func(t *testing.T) {
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "ftp://127.0.0.1/a.tgz", http.StatusFound)
		})
		_, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), `scheme "ftp" is not allowed`) {
			t.Fatalf("want a scheme refusal, got %v", err)
		}
	})

	credentials := []struct {
		name string
		src  func(u string) Source
	}{
		{"from the fields", func(u string) Source { return Source{URL: u, Username: "alice", Password: "pw"} }},
		{"from URL userinfo", func(u string) Source { return Source{URL: strings.Replace(u, "://", "://alice:pw@", 1)} }},
	}
	for _, c := range credentials {
		t.Run("does not send credentials "+c.name+" to another host after a redirect", func(t *testing.T) {
			var other authLog
			b, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
				other.record(r)
				_, _ = w.Write(testBody)
			})
			var origin authLog
			a, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
				origin.record(r)
				switch r.URL.Path {
				case "/start": // to the same server under another name
					http.Redirect(w, r, localhostURL(b.URL)+"/elsewhere", http.StatusFound)
				}
			})
			if _, err := newFetcher(t).Fetch(context.Background(), c.src(a.URL+"/start"), sum(testBody), &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(origin.String(), "/start=Basic ") {
				t.Errorf("the original host saw %q, want credentials", origin.String())
			}
			if other.String() != "/elsewhere=none" {
				t.Errorf("the other host saw %q, want no credentials", other.String())
			}
		})
	}

	t.Run("does not send credentials to another port on the same host name", func(t *testing.T) {
		var other authLog
		b, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			other.record(r)
			_, _ = w.Write(testBody)
		})
		a, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, b.URL+"/b", http.StatusFound) })
		if _, err := newFetcher(t).Fetch(context.Background(), Source{URL: a.URL, Username: "alice", Password: "pw"}, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		if other.String() != "/b=none" {
			t.Errorf("the other port saw %q", other.String())
		}
	})

	t.Run("keeps credentials on a redirect within the original host, even back from another", func(t *testing.T) {
		var log authLog
		var a, b string
		srvA, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			log.record(r)
			switch r.URL.Path {
			case "/1":
				http.Redirect(w, r, "/2", http.StatusFound)
			case "/2":
				http.Redirect(w, r, b+"/3", http.StatusFound)
			case "/4":
				_, _ = w.Write(testBody)
			}
		})
		srvB, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			log.record(r)
			http.Redirect(w, r, a+"/4", http.StatusFound)
		})
		a, b = srvA.URL, localhostURL(srvB.URL)
		if _, err := newFetcher(t).Fetch(context.Background(), Source{URL: a + "/1", Username: "alice", Password: "pw"}, sum(testBody), &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		basic := "Basic YWxpY2U6cHc=" // alice:pw
		want := "/1=" + basic + ",/2=" + basic + ",/3=none,/4=" + basic
		if log.String() != want {
			t.Errorf("servers saw\n%s\nwant\n%s", log.String(), want)
		}
	})
}

func TestRedirectedFailureNamesWhereItFailed(t *testing.T) {
	u := chain(t)
	_, err := newFetcher(t).Fetch(context.Background(), Source{URL: u + "/r/x1"}, sum(testBody), &bytes.Buffer{})
	if want := "GET " + u + "/r/x1: 404 Not Found"; err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/gone", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	_, err = newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL + "/start"}, sum(testBody), &bytes.Buffer{})
	if want := "GET " + srv.URL + "/start: 404 Not Found from " + srv.URL + "/gone"; err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}
