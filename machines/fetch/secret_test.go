package fetch

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// secret is a password no test output may ever contain.
const secret = "pw-7f3a9c-never-print-me"

func TestPasswordNeverAppears(t *testing.T) {
	plain, _ := server(t, serve(testBody))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	blocked := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	var statusesURL string
	redirects, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/ftp":
			http.Redirect(w, r, "ftp://alice:"+secret+"@127.0.0.1/x", http.StatusFound)
		case "/away":
			http.Redirect(w, r, "http://alice:"+secret+"@"+strings.TrimPrefix(localhostURL(statusesURL), "http://")+"/404", http.StatusFound)
		}
	})
	statuses, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			http.NotFound(w, r)
		case "/503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/401":
			w.Header().Set("WWW-Authenticate", `Basic realm="`+secret+`"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "/slow":
			blocked(w, r)
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte{'x'}, 8192))
		}
	})
	statusesURL = statuses.URL
	slow, _ := server(t, blocked)
	secure, _ := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL, http.StatusFound)
	})
	secure.Config.ErrorLog = quietLog()
	closed, _ := server(t, serve(testBody))
	closed.Close()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name string
		url  string
		want string // expected sha256; empty means testBody's
		ctx  context.Context
		opts func(*Options)
	}{
		{name: "404", url: statuses.URL + "/404"},
		{name: "503 retried until it gives up", url: statuses.URL + "/503"},
		{name: "401 with a realm", url: statuses.URL + "/401"},
		{name: "scheme not allowed", url: "ftp://127.0.0.1:21/x.tgz"},
		{name: "unparseable URL", url: "http://127.0.0.1:%zz/x"},
		{name: "URL without a host", url: "http:///x"},
		{name: "Content-Length over the limit", url: slow.URL, opts: func(o *Options) { o.MaxBytes = 1024 }},
		{name: "body over the limit", url: statuses.URL + "/big", opts: func(o *Options) { o.MaxBytes = 1024 }},
		{name: "redirect loop over the limit", url: redirects.URL + "/loop"},
		{name: "redirect to a scheme not allowed", url: redirects.URL + "/ftp"},
		{name: "redirect to another host that fails", url: redirects.URL + "/away"},
		{name: "https downgraded to http", url: secure.URL, opts: func(o *Options) { o.RootCAs = serverPool(secure) }},
		{name: "untrusted certificate", url: secure.URL},
		{name: "timeout", url: statuses.URL + "/slow", opts: func(o *Options) { o.Timeout = 100 * time.Millisecond }},
		{name: "checksum mismatch", url: plain.URL, want: sum([]byte("other"))},
		{name: "invalid expected checksum", url: plain.URL, want: "not-a-sum"},
		{name: "cancelled context", url: plain.URL, ctx: cancelled},
		{name: "connection refused", url: closed.URL},
	}
	withPassword := []struct {
		name string
		src  func(u string) Source
	}{
		{"in the fields", func(u string) Source { return Source{URL: u, Username: "alice", Password: secret} }},
		{"in the URL", func(u string) Source {
			return Source{URL: strings.Replace(u, "://", "://alice:"+secret+"@", 1)}
		}},
	}
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + secret))
	for _, c := range cases {
		for _, p := range withPassword {
			t.Run("keeps the password out of the error on "+c.name+" with the password "+p.name, func(t *testing.T) {
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				f := newFetcher(t, func(o *Options) { o.Logger = logger }, func(o *Options) {
					if c.opts != nil {
						c.opts(o)
					}
				})
				ctx := c.ctx
				if ctx == nil {
					ctx = context.Background()
				}
				want := c.want
				if want == "" {
					want = sum(testBody)
				}
				src := p.src(c.url)
				path := outPath(t)
				res, err := f.FetchToFile(ctx, src, want, path)
				if err == nil {
					t.Fatal("the case did not fail")
				}
				assertNoFile(t, path)
				logger.Info("the caller logs", "source", src, "error", err)
				shown := strings.Join([]string{
					err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
					fmt.Sprintf("%+v", res), src.String(), fmt.Sprintf("%v %+v %#v %s %q %d %x", src, src, src, src, src, src, src),
					logs.String(),
				}, "\n")
				for _, leak := range []string{secret, basic} {
					if strings.Contains(shown, leak) {
						t.Fatalf("%q leaked into:\n%s", leak, shown)
					}
				}
			})
		}
	}

	t.Run("the retry case really logged, so its logs were checked", func(t *testing.T) {
		var logs bytes.Buffer
		f := newFetcher(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
		_, _ = f.Fetch(context.Background(), Source{URL: statuses.URL + "/503", Password: secret}, sum(testBody), &bytes.Buffer{})
		if strings.Count(logs.String(), "retrying download") != 2 || strings.Contains(logs.String(), secret) {
			t.Fatalf("want two retry lines without the password, got:\n%s", logs.String())
		}
	})

	t.Run("FetchToFile on an existing path keeps the password out", func(t *testing.T) {
		path := outPath(t)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := newFetcher(t).FetchToFile(context.Background(), Source{URL: "http://alice:" + secret + "@127.0.0.1/x"}, sum(testBody), path)
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), "http://127.0.0.1/x") {
			t.Fatalf("want a redacted refusal, got %v", err)
		}
	})
}

func TestNoTokenLeaves(t *testing.T) {
	t.Run("never sends a Referer, with its query string, to the host a redirect leads to", func(t *testing.T) {
		var referers []string
		target, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			referers = append(referers, r.Header.Get("Referer"))
			w.Write(testBody)
		})
		origin, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/web.tgz", http.StatusFound)
		})
		var out bytes.Buffer
		if _, err := newFetcher(t).Fetch(context.Background(), Source{URL: origin.URL + "/web.tgz?token=" + secret}, sum(testBody), &out); err != nil {
			t.Fatal(err)
		}
		if len(referers) != 1 || referers[0] != "" {
			t.Fatalf("the redirect target saw Referer %q", referers)
		}
	})
	t.Run("says where a download failed without its query string", func(t *testing.T) {
		srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
		var out bytes.Buffer
		_, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL + "/web.tgz?token=" + secret}, sum(testBody), &out)
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "token") || !strings.Contains(err.Error(), "/web.tgz") {
			t.Fatalf("got %v", err)
		}
	})
}
