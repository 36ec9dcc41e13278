package nodeloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/keyring"
)

// keyringReadTimeout bounds reading one keyring version.
const keyringReadTimeout = 5 * time.Second

// KeyringFetcher reads keyring versions from bucket, each beside key (kvspec.KeyringKey), over
// the JetStream connection js gives at the time of the read: a Choria machine's connection
// comes up after its watchers start, and until it does a read fails, the keeper keeps the
// keyring it holds, and the next reconcile reads again.
func KeyringFetcher(js func() (jetstream.JetStream, error), bucket, key string) keyring.Fetcher {
	return func(ctx context.Context, version int64) ([]byte, error) {
		j, err := js()
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, keyringReadTimeout)
		defer cancel()
		e, err := kvspec.Get(ctx, j, bucket, kvspec.KeyringKey(key, version))
		if errors.Is(err, kvspec.ErrNotFound) || errors.Is(err, kvspec.ErrNoBucket) {
			return nil, fmt.Errorf("%w: %v", keyring.ErrNotFound, err)
		}
		if err != nil {
			return nil, err
		}
		return e.Value, nil
	}
}

// KeyringWhere is how logs name where a node reads its keyring from in bucket, beside key.
func KeyringWhere(bucket, key string) string {
	return "kv " + bucket + "/" + key + ".keyring.N"
}

// NewKeeper is the keeper of the keyring a node holds in its machines directory dir, walked
// from anchor through what fetch reads (where says what that is, for logs).
func NewKeeper(dir string, anchor keyring.Anchor, fetch keyring.Fetcher, where string, log *slog.Logger) *keyring.Keeper {
	return &keyring.Keeper{Anchor: anchor, Fetch: fetch, Where: where, Dir: dir, Logger: log}
}
