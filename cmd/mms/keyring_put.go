package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/choria-io/fisk"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/keyring"
)

type keyringPutCommand struct {
	kv     kvFlags
	bucket bucketFlags
	file   string
}

func configureKeyringPut(parent *fisk.CmdClause) {
	c := &keyringPutCommand{}
	cmd := parent.Command("put", "Publishes a signed keyring version beside the specification's key (KEY.keyring.N), where nodes read it; a version once published is never replaced").Action(action(c.run))
	cmd.Arg("file", "The keyring document (- for standard input)").Required().StringVar(&c.file)
	c.kv.register(cmd, localServerHelp)
	c.kv.registerDir(cmd)
	c.kv.registerProfiles(cmd)
	c.bucket.register(cmd)
}

func (c *keyringPutCommand) run() error {
	if err := kvspec.CheckBucket(c.kv.bucket); err != nil {
		return usageError("--bucket: %v", err)
	}
	k, doc, err := readKeyring(c.file)
	if err != nil {
		return err
	}
	doc = bytes.TrimSpace(doc)
	if err := k.SelfSigned(); err != nil {
		return fmt.Errorf("keyring put %s: %w (sign it with mms keyring sign)", c.file, err)
	}
	if err := k.Expired(time.Now()); err != nil {
		return fmt.Errorf("keyring put %s: %w", c.file, err)
	}
	key := kvspec.KeyringKey(c.kv.key, k.Version)
	where := c.kv.bucket + "/" + key

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+4*requestTimeout)
	defer cancel()
	url, nc, js, err := c.kv.dial(ctx)
	if err != nil {
		return err
	}
	defer nc.Close()

	if done, err := c.published(ctx, js, k, doc, where); done || err != nil {
		return err
	}
	if k.Version > 1 {
		prevKey := kvspec.KeyringKey(c.kv.key, k.Version-1)
		e, err := kvspec.Get(ctx, js, c.kv.bucket, prevKey)
		switch {
		case errors.Is(err, kvspec.ErrNotFound) || errors.Is(err, kvspec.ErrNoBucket):
			return fmt.Errorf("keyring put %s: %w: version %d is not published at %s/%s: nodes walk each version in turn and could not reach version %d; publish version %d first",
				c.file, errs.ErrKeyring, k.Version-1, c.kv.bucket, prevKey, k.Version, k.Version-1)
		case err != nil:
			return c.kv.natsHint(err, url)
		}
		prev, err := keyring.Parse(e.Value)
		if err != nil {
			return fmt.Errorf("keyring put %s: the published version %d at %s/%s: %w", c.file, k.Version-1, c.kv.bucket, prevKey, err)
		}
		if err := prev.Follows(k); err != nil {
			return fmt.Errorf("keyring put %s: nodes holding the published version %d would refuse it: %w", c.file, prev.Version, err)
		}
	}
	rev, err := kvspec.Create(ctx, js, c.kv.bucket, key, doc, c.bucket.config())
	if errors.Is(err, kvspec.ErrExists) {
		// Someone published this version meanwhile.
		if done, err := c.published(ctx, js, k, doc, where); done || err != nil {
			return err
		}
	}
	if err != nil {
		return c.kv.natsHint(err, url)
	}
	fmt.Printf("Published %s revision %d: keyring version %d, %d signer(s), spec threshold %d, expires %s\n", where, rev, k.Version, len(k.Signers), k.SpecThreshold, stampUTC(k.Expires))
	return nil
}

// published looks at what the bucket holds for k's version: done (and no error) when it is
// this very document, a refusal when it is another, neither when it holds none.
func (c *keyringPutCommand) published(ctx context.Context, js jetstream.JetStream, k *keyring.Keyring, doc []byte, where string) (bool, error) {
	e, err := kvspec.Get(ctx, js, c.kv.bucket, kvspec.KeyringKey(c.kv.key, k.Version))
	switch {
	case errors.Is(err, kvspec.ErrNotFound) || errors.Is(err, kvspec.ErrNoBucket):
		return false, nil
	case err != nil:
		return false, c.kv.natsHint(err, "the server")
	case bytes.Equal(bytes.TrimSpace(e.Value), doc):
		fmt.Printf("Keyring version %d is already published at %s (revision %d): nothing to do\n", k.Version, where, e.Revision)
		return true, nil
	}
	other := "another keyring"
	if old, err := keyring.Parse(e.Value); err == nil && old.Digest == k.Digest {
		other = fmt.Sprintf("the same payload with other signatures (%d there, %d here)", len(old.Signatures), len(k.Signatures))
	}
	return false, fmt.Errorf("keyring put %s: %w: version %d is already published at %s (revision %d) as %s, and a version once published is never replaced: make the next version (an edit of a signed keyring does)",
		c.file, errs.ErrKeyring, k.Version, where, e.Revision, other)
}
