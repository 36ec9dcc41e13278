package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

// serverPool is the certificate pool that trusts an httptest TLS server.
func serverPool(srv *httptest.Server) *x509.CertPool {
	return srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}

func TestTLS(t *testing.T) {
	t.Run("downloads over TLS from a server its RootCAs trust", func(t *testing.T) {
		srv, _ := tlsServer(t, serve(testBody))
		f := newFetcher(t, func(o *Options) { o.RootCAs = serverPool(srv) })
		var buf bytes.Buffer
		if _, err := f.Fetch(context.Background(), Source{URL: srv.URL + "/a.tgz"}, sum(testBody), &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), testBody) {
			t.Errorf("received %d bytes", buf.Len())
		}
	})

	t.Run("refuses a certificate no trusted authority signed, without retrying", func(t *testing.T) {
		srv, hits := tlsServer(t, serve(testBody))
		srv.Config.ErrorLog = quietLog() // the server logs each refused handshake
		res, err := newFetcher(t).Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a certificate refusal matching ErrFetch, got %v", err)
		}
		if hits.Load() != 0 || res.Attempts != 1 {
			t.Errorf("handler ran %d times after %d attempts; want 0 after 1", hits.Load(), res.Attempts)
		}
	})

	t.Run("refuses a trusted certificate for another host name", func(t *testing.T) {
		srv, _ := tlsServer(t, serve(testBody))
		srv.Config.ErrorLog = quietLog()
		f := newFetcher(t, func(o *Options) { o.RootCAs = serverPool(srv) })
		// httptest's certificate names 127.0.0.1, ::1 and example.com, not localhost
		_, err := f.Fetch(context.Background(), Source{URL: localhostURL(srv.URL)}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a host name refusal, got %v", err)
		}
	})

	t.Run("refuses a server that speaks nothing newer than TLS 1.1", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(serve(testBody))
		srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
		srv.Config.ErrorLog = quietLog()
		srv.StartTLS()
		t.Cleanup(srv.Close)
		f := newFetcher(t, func(o *Options) { o.RootCAs = serverPool(srv) })
		res, err := f.Fetch(context.Background(), Source{URL: srv.URL}, sum(testBody), &bytes.Buffer{})
		if !errors.Is(err, errs.ErrFetch) || !strings.Contains(err.Error(), "version") {
			t.Fatalf("want a protocol version refusal, got %v", err)
		}
		if res.Attempts != 1 {
			t.Errorf("a TLS refusal was retried: %d attempts", res.Attempts)
		}
	})
}
