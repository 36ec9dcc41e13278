package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/fetch"
)

// BucketDescription is the description Publish gives a bucket it creates.
const BucketDescription = "mms machine archives, named by obj://BUCKET/NAME in signed specifications"

// Publish puts the archive r as object name of bucket and returns the object's info, whose
// Digest is the store's own "SHA-256=" digest. A missing bucket is created with file storage,
// the given number of replicas (at least 1) and BucketDescription; an existing bucket is used
// as it is, whatever its settings. A spec entry then names the object as
// Ref{Bucket: bucket, Name: name}.String(), with the archive's sha256 as its checksum.
func Publish(ctx context.Context, js jetstream.JetStream, bucket, name string, r io.Reader, replicas int) (jetstream.ObjectInfo, error) {
	ref := Ref{Bucket: bucket, Name: name}
	if err := ref.validate(); err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("publish: %w", err)
	}
	if replicas < 1 {
		return jetstream.ObjectInfo{}, fmt.Errorf("publish %s: replicas must be at least 1, got %d", ref, replicas)
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: BucketDescription,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			// another publisher created it meanwhile, with other settings: use it
			obs, err = js.ObjectStore(ctx, bucket)
		}
	}
	if err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("publish %s: bucket: %w", ref, err)
	}
	info, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	if err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("publish %s: %w", ref, err)
	}
	return *info, nil
}

// Check tells a publisher whether the object raw names (obj://BUCKET/NAME) is what a spec
// entry with checksum wantSHA256 will install: it exists, is not deleted, and the store's
// digest of it is wantSHA256. It reads the info only, as Fetch does first. A missing bucket
// wraps ErrNoBucket, a missing or deleted object ErrNoObject, another digest errs.ErrChecksum
// (naming both as hex), a refused access ErrDenied, a bad URL or checksum errs.ErrInvalidSpec.
func Check(ctx context.Context, js jetstream.JetStream, raw string, wantSHA256 string) (jetstream.ObjectInfo, error) {
	ref, err := ParseURL(raw)
	if err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("check %s: %w", fetch.Source{URL: raw}, err)
	}
	want, err := fetch.ParseChecksum(wantSHA256)
	if err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("check %s: %w", ref, err)
	}
	_, info, _, err := lookup(ctx, js, ref)
	if err == nil {
		err = checkInfo(info, want)
	}
	if err != nil {
		return jetstream.ObjectInfo{}, fmt.Errorf("check %s: %w", ref, err)
	}
	return *info, nil
}
