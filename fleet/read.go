package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mms-io/mms/kvspec"
	"github.com/nats-io/nats.go/jetstream"
)

// Read returns the newest status of every node in bucket, read in one pass over the bucket (a
// watch that ends once it has delivered every current value), and how many values it skipped
// because they are not a status of this schema.
func Read(ctx context.Context, js jetstream.JetStream, bucket string) ([]Status, int, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, 0, fmt.Errorf("read %s: %w", bucket, kvspec.ErrNoBucket)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", bucket, err)
	}
	defer w.Stop()
	var out []Status
	skipped := 0
	for {
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("read %s: %w", bucket, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, 0, fmt.Errorf("read %s: the watch ended early", bucket)
			}
			if e == nil {
				return out, skipped, nil
			}
			s, err := decodeAt(e)
			if err != nil {
				skipped++
				continue
			}
			out = append(out, s)
		}
	}
}

// Watch delivers every status written to bucket from now on, after the current ones, until
// ctx ends: for mms status --fleet --watch.
func Watch(ctx context.Context, js jetstream.JetStream, bucket string) (<-chan Status, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("watch %s: %w", bucket, kvspec.ErrNoBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", bucket, err)
	}
	return kvspec.Pump(ctx, w, func(e jetstream.KeyValueEntry) (Status, bool) {
		s, err := decodeAt(e)
		return s, err == nil
	}), nil
}

// Decode reads one status, refusing another schema and one that contradicts itself.
func Decode(data []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("decode status: %w", err)
	}
	switch {
	case s.Schema != Schema:
		return Status{}, fmt.Errorf("decode status: schema %q, want %q", s.Schema, Schema)
	case s.Identity == "":
		return Status{}, errors.New("decode status: no identity")
	case s.Outcome == OutcomeRefused && s.Refused == nil:
		return Status{}, fmt.Errorf("decode status of %q: refused, but says no refusal", s.Identity)
	}
	return s, nil
}

// decodeAt reads the status in e, refusing one stored under another node's key: a node may
// write its own key only, and must not speak for another identity.
func decodeAt(e jetstream.KeyValueEntry) (Status, error) {
	s, err := Decode(e.Value())
	if err != nil {
		return Status{}, err
	}
	if want := Key(s.Identity); e.Key() != want {
		return Status{}, fmt.Errorf("decode status of %q: stored under key %q, not its own %q", s.Identity, e.Key(), want)
	}
	return s, nil
}
