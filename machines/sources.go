package machines

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/mms-io/mms/machines/fetch"
)

// Fetcher downloads one archive into w, hashing it as it streams, and refuses a body whose
// sha256 is not want (errs.ErrChecksum, naming both values). The entry's checksum in the signed
// specification decides, whatever the transport says. fetch.Fetcher (http, https) is one.
type Fetcher interface {
	Fetch(ctx context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error)
}

// fetchers are the sources of one Apply, by URL scheme: the HTTP fetcher made from
// Config.Fetch, and those Config.Sources adds.
type fetchers struct {
	http    Fetcher
	schemes map[string]Fetcher
}

// newFetchers makes the HTTP fetcher from cfg.Fetch and registers cfg.Sources beside it.
func newFetchers(cfg Config) (*fetchers, error) {
	h, err := fetch.New(cfg.Fetch)
	if err != nil {
		return nil, err
	}
	f := &fetchers{http: h, schemes: map[string]Fetcher{}}
	for scheme, src := range cfg.Sources {
		if scheme == "http" || scheme == "https" {
			return nil, fmt.Errorf("reconcile: a source for %s would replace the HTTP fetcher and its limits", scheme)
		}
		f.schemes[scheme] = src
	}
	return f, nil
}

// forURL returns the fetcher of raw's scheme; anything not registered goes to the HTTP fetcher,
// which refuses a scheme it does not allow with the setting that allows it.
func (f *fetchers) forURL(raw string) Fetcher {
	if u, err := url.Parse(raw); err == nil {
		if src, ok := f.schemes[u.Scheme]; ok {
			return src
		}
	}
	return f.http
}
