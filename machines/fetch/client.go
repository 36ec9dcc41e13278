package fetch

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Fetcher downloads archives with one http.Client shared by every call; it is safe for
// concurrent use.
type Fetcher struct {
	opts   Options
	client *http.Client
	log    *slog.Logger
}

// New validates opts and builds the Fetcher's http.Client: TLS always verified against
// opts.RootCAs (nil: the system pool), TLS 1.2 at least, proxy from the environment
// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), no transparent decompression (the bytes hashed are
// the bytes served), and the redirect policy described on FetchToFile.
func New(opts Options) (*Fetcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.AllowedSchemes = append([]string(nil), opts.AllowedSchemes...)
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Fetcher{opts: opts, log: logger}
	f.client = &http.Client{Transport: transport, CheckRedirect: f.checkRedirect}
	return f, nil
}

// redirectError is a redirect the policy refuses; it is never retried.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect follows at most MaxRedirects redirects, only to allowed schemes, never from
// https to http, and sends the original request's Authorization only to its own host.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.opts.MaxRedirects {
		return redirectsLimit(f.opts.MaxRedirects)
	}
	prev := via[len(via)-1]
	to := Display(req.URL)
	// No Referer, ever: net/http sends the previous URL, query string (tokens) and all, to the
	// next host.
	req.Header.Del("Referer")
	if !f.opts.schemeAllowed(req.URL.Scheme) {
		return &redirectError{fmt.Sprintf("redirect to %s refused: scheme %q is not allowed (allowed: %s; add it with --allow-scheme)",
			to, req.URL.Scheme, strings.Join(f.opts.AllowedSchemes, ", "))}
	}
	for _, r := range via {
		if r.URL.Scheme == "https" && req.URL.Scheme != "https" {
			return &redirectError{fmt.Sprintf("redirect from %s to %s refused: it downgrades https to %s", Display(prev.URL), to, req.URL.Scheme)}
		}
	}
	origin := via[0]
	auth := origin.Header.Get("Authorization")
	req.Header.Del("Authorization")
	if auth != "" && sameHost(origin.URL, req.URL) {
		req.Header.Set("Authorization", auth)
	}
	return nil
}

// sameHost reports whether b is the same host as a: the same host name (case-insensitive)
// and the same port, the scheme's default filled in. http://h upgraded to https://h on the
// default ports counts as the same host. A subdomain is a different host.
func sameHost(a, b *url.URL) bool {
	if !strings.EqualFold(a.Hostname(), b.Hostname()) {
		return false
	}
	pa, pb := effectivePort(a), effectivePort(b)
	if pa == pb {
		return true
	}
	return a.Scheme == "http" && b.Scheme == "https" && pa == "80" && pb == "443"
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// isRedirectError reports whether err is a refusal from checkRedirect.
func isRedirectError(err error) bool {
	var re *redirectError
	return errors.As(err, &re)
}
