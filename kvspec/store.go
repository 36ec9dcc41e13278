package kvspec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket defaults and bounds.
const (
	// DefaultHistory is the number of revisions per key a new bucket keeps.
	DefaultHistory = 10
	// MaxHistory is the most revisions per key JetStream Key-Value allows.
	MaxHistory = jetstream.KeyValueMaxHistory
	// DefaultReplicas is the replica count of a new bucket.
	DefaultReplicas = 1
	// MaxReplicas is the most replicas JetStream allows.
	MaxReplicas = 5
)

// BucketConfig describes the bucket Put creates when it is missing. An existing bucket is
// used as it is; its configuration is never changed.
type BucketConfig struct {
	// History is the number of revisions kept per key; 0 means DefaultHistory (10).
	History int
	// Replicas is the number of servers holding the bucket; 0 means DefaultReplicas (1).
	Replicas int
	// Description is shown by `nats kv info`.
	Description string
}

// keyValueConfig applies the defaults and checks the bounds.
func (c BucketConfig) keyValueConfig(bucket string) (jetstream.KeyValueConfig, error) {
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.History < 1 || c.History > MaxHistory {
		return jetstream.KeyValueConfig{}, fmt.Errorf("%w: history %d, want 1 to %d", ErrBucketConfig, c.History, MaxHistory)
	}
	if c.Replicas < 1 || c.Replicas > MaxReplicas {
		return jetstream.KeyValueConfig{}, fmt.Errorf("%w: replicas %d, want 1 to %d", ErrBucketConfig, c.Replicas, MaxReplicas)
	}
	return jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: c.Description,
		History:     uint8(c.History),
		Replicas:    c.Replicas,
		Storage:     jetstream.FileStorage,
	}, nil
}

// Entry is the latest value of a key.
type Entry struct {
	// Value is the stored bytes, opaque to kvspec.
	Value []byte
	// Revision is the bucket-wide sequence number of this value; later values have larger ones.
	Revision uint64
	// Created is when the server stored this value.
	Created time.Time
}

// Put stores value under key in bucket, creating the bucket with cfg when it does not exist,
// and returns the new revision.
func Put(ctx context.Context, js jetstream.JetStream, bucket, key string, value []byte, cfg BucketConfig) (uint64, error) {
	kv, err := openOrCreate(ctx, js, bucket, cfg)
	if err != nil {
		return 0, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	rev, err := kv.Put(ctx, key, value)
	if err != nil {
		return 0, fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return rev, nil
}

// ErrExists means Create found the key already holding a value.
var ErrExists = errors.New("key already holds a value")

// Create stores value under key in bucket only when key holds none (a keyring version, which
// is never replaced), creating the bucket with cfg when it does not exist; it returns an error
// wrapping ErrExists otherwise.
func Create(ctx context.Context, js jetstream.JetStream, bucket, key string, value []byte, cfg BucketConfig) (uint64, error) {
	kv, err := openOrCreate(ctx, js, bucket, cfg)
	if err != nil {
		return 0, fmt.Errorf("create %s/%s: %w", bucket, key, err)
	}
	rev, err := kv.Create(ctx, key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("create %s/%s: %w", bucket, key, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("create %s/%s: %w", bucket, key, err)
	}
	return rev, nil
}

// openOrCreate opens bucket, creating it with cfg when it is missing. Two writers creating
// the same bucket at once both succeed.
func openOrCreate(ctx context.Context, js jetstream.JetStream, bucket string, cfg BucketConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	kvc, err := cfg.keyValueConfig(bucket)
	if err != nil {
		return nil, err
	}
	kv, err = js.CreateKeyValue(ctx, kvc)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	return kv, nil
}

// Get returns the latest value of key in bucket. It returns an error wrapping ErrNotFound when
// the key is missing, deleted or purged, and ErrNoBucket when the bucket does not exist.
func Get(ctx context.Context, js jetstream.JetStream, bucket, key string) (Entry, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return Entry{}, fmt.Errorf("get %s/%s: %w", bucket, key, ErrNoBucket)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, fmt.Errorf("get %s/%s: %w", bucket, key, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return Entry{Value: e.Value(), Revision: e.Revision(), Created: e.Created()}, nil
}

// History returns the revisions of key the bucket still keeps (its history setting bounds
// them), newest first, without deletions and purges. It returns an error wrapping
// ErrNotFound when none is kept, and ErrNoBucket when the bucket does not exist.
func History(ctx context.Context, js jetstream.JetStream, bucket, key string) ([]Entry, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("history %s/%s: %w", bucket, key, ErrNoBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("history %s/%s: %w", bucket, key, err)
	}
	entries, err := kv.History(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("history %s/%s: %w", bucket, key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("history %s/%s: %w", bucket, key, err)
	}
	var out []Entry
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Operation() == jetstream.KeyValuePut {
			out = append(out, Entry{Value: e.Value(), Revision: e.Revision(), Created: e.Created()})
		}
	}
	return out, nil
}
