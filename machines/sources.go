package machines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/mms-io/mms/machines/fetch"
)

// Fetcher downloads one archive into w, hashing it as it streams, and refuses a body whose
// sha256 is not want (errs.ErrChecksum, naming both values). The entry's checksum in the signed
// specification decides, whatever the transport says. fetch.Fetcher (http, https) is one.
type Fetcher interface {
	Fetch(ctx context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error)
}

// fetchers are the sources of one Apply, by URL scheme: the HTTP fetcher made from
// Config.Fetch, and those Config.Sources adds, each used only when Config.AllowedSchemes
// allows its scheme.
type fetchers struct {
	http    Fetcher
	schemes map[string]Fetcher
	allowed []string
	hint    func(setting string) string // Config.RaiseHint: the host's words for a setting
}

// newFetchers makes the HTTP fetcher from cfg.Fetch (for the HTTP schemes cfg.AllowedSchemes
// allows) and registers cfg.Sources beside it.
func newFetchers(cfg Config) (*fetchers, error) {
	f := &fetchers{schemes: map[string]Fetcher{}, allowed: cfg.AllowedSchemes, hint: cfg.RaiseHint}
	for scheme, src := range cfg.Sources {
		if slices.Contains(fetch.SupportedSchemes(), scheme) {
			return nil, fmt.Errorf("reconcile: a source for %s would replace the HTTP fetcher and its limits", scheme)
		}
		f.schemes[scheme] = src
	}
	opts := cfg.Fetch
	if f.allowed == nil {
		f.allowed = append(slices.Clone(opts.AllowedSchemes), slices.Sorted(maps.Keys(f.schemes))...)
	} else {
		opts.AllowedSchemes = slices.DeleteFunc(slices.Clone(f.allowed), func(s string) bool {
			return !slices.Contains(fetch.SupportedSchemes(), s)
		})
	}
	if len(opts.AllowedSchemes) == 0 {
		// no HTTP scheme is allowed: every http(s) source is refused as not allowed
		f.http = unavailable{reason: f.notAllowed}
		return f, nil
	}
	h, err := fetch.New(opts)
	if err != nil {
		return nil, err
	}
	f.http = h
	return f, nil
}

// forURL returns the fetcher of raw's scheme when the scheme is allowed: the HTTP fetcher for
// http and https, a registered source for its scheme; otherwise one that refuses, saying why
// and how to allow it in the host's words.
func (f *fetchers) forURL(raw string) Fetcher {
	u, err := url.Parse(raw)
	if err != nil {
		return f.http // which says why it does not parse, without quoting a password
	}
	if !slices.Contains(f.allowed, u.Scheme) {
		return unavailable{reason: f.notAllowed}
	}
	if slices.Contains(fetch.SupportedSchemes(), u.Scheme) {
		return f.http
	}
	if src, ok := f.schemes[u.Scheme]; ok {
		return src
	}
	return unavailable{reason: func(scheme string) string {
		return fmt.Sprintf("scheme %q is allowed but nothing here reads it (obj:// archives are read over a node's NATS connection: mms agent and the Choria watcher have one, mms apply does not)", scheme)
	}}
}

// notAllowed says that a scheme is not allowed, and what is.
func (f *fetchers) notAllowed(scheme string) string {
	allowed := "none"
	if len(f.allowed) > 0 {
		allowed = strings.Join(f.allowed, ", ")
	}
	how := "add it to the allow_schemes setting"
	if f.hint != nil {
		if h := f.hint(allowSchemes); h != "" {
			how = "add it with " + h
		}
	}
	return fmt.Sprintf("scheme %q is not allowed (allowed: %s; %s)", scheme, allowed, how)
}

// allowSchemes is the name of the setting that lists the allowed schemes (Config.AllowedSchemes),
// as Config.RaiseHint knows it.
const allowSchemes = "allow_schemes"

// Unavailable is the source of a scheme that cannot be read here now (the connection it reads
// over is not up yet, say): it refuses every URL with why, as a fetch.Error (errs.ErrFetch),
// so that the retry memory backs the entry off as it does a failed download.
func Unavailable(why string) Fetcher {
	return unavailable{reason: func(string) string { return why }}
}

// unavailable is the fetcher of a source that cannot be used here: it refuses every URL with
// reason(scheme), as a fetch.Error (errs.ErrFetch).
type unavailable struct {
	reason func(scheme string) string
}

// Fetch refuses src.
func (u unavailable) Fetch(_ context.Context, src fetch.Source, _ string, _ io.Writer) (fetch.Result, error) {
	scheme := ""
	if p, err := url.Parse(src.URL); err == nil {
		scheme = p.Scheme
	}
	return fetch.Result{}, &fetch.Error{URL: src.String(), Err: errors.New(u.reason(scheme))}
}
