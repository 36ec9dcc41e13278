package nodeloop

import (
	"fmt"
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
	sources := make(map[string]machines.Fetcher, len(cfg.Sources)+1)
	for k, v := range cfg.Sources {
		sources[k] = v
	}
	sources[objstore.Scheme] = src
	cfg.Sources = sources
	return nil
}
