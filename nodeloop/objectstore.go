package nodeloop

import (
	"fmt"
	"maps"
	"slices"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/objstore"
	"github.com/nats-io/nats.go/jetstream"
)

// UseObjectStore registers the obj:// source in cfg, after Settings.Apply: archives are read
// from the JetStream Object Store over js, the node's own connection, under cfg.Fetch's size
// and time limits (the ones HTTP downloads have). When allow_schemes leaves obj out, it
// registers nothing, so that obj:// sources are refused as not allowed. A nil js (the
// connection is not up yet) registers a source that refuses with why, retried with the
// usual backoff.
func UseObjectStore(cfg *machines.Config, js jetstream.JetStream, why string) error {
	if cfg.AllowedSchemes != nil && !slices.Contains(cfg.AllowedSchemes, objstore.Scheme) {
		return nil
	}
	var src machines.Fetcher = machines.Unavailable(why)
	if js != nil {
		f, err := objstore.New(js, cfg.Fetch, cfg.Fetch.Logger)
		if err != nil {
			return fmt.Errorf("the Object Store source: %w", err)
		}
		src = f
	}
	// a copy: cfg may be a copy of a configuration whose map the host keeps
	sources := maps.Clone(cfg.Sources)
	if sources == nil {
		sources = map[string]machines.Fetcher{}
	}
	sources[objstore.Scheme] = src
	cfg.Sources = sources
	return nil
}
