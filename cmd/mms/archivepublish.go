package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/objstore"
)

// defaultPublishTimeout bounds mms archive --publish (connecting, checking and uploading)
// unless --timeout says otherwise: what a node gives one download.
const defaultPublishTimeout = fetch.DefaultTimeout

// errPublishTimeout is the cause of the context --timeout bounds.
var errPublishTimeout = errors.New("publish timeout")

// publishedDoc says where mms archive --publish put the archive (in mms.archive.v1).
type publishedDoc struct {
	// Bucket and Object name it in the Object Store; Source is its obj:// URL, the entry's.
	Bucket string `json:"bucket"`
	Object string `json:"object"`
	Source string `json:"source"`
	// Size is the object's size in bytes.
	Size uint64 `json:"size"`
	// Uploaded is false when the object was there already with this very content.
	Uploaded bool `json:"uploaded"`
}

// objectName is the archive's default object name: the machine's name and the first 16 hex
// digits of the archive's sha256, so that publishing a new release never replaces an object
// that a published specification names.
func objectName(name, checksum string) string {
	return fmt.Sprintf("%s-%s.tar.gz", name, checksum[:16])
}

// upload puts the archive f, whose sha256 is checksum, in the --publish bucket, unless that
// object holds it already. An object of the same name with other content is replaced only
// with --force: a specification may name it, and its nodes would refuse the new content.
func (c *archiveCommand) upload(f *os.File, checksum string) (*publishedDoc, error) {
	object := c.object
	if object == "" {
		object = objectName(c.name, checksum)
	}
	ref := objstore.Ref{Bucket: c.publish, Name: object}
	doc := &publishedDoc{Bucket: c.publish, Object: object, Source: ref.String()}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errPublishTimeout)
	defer cancel()
	timedOut := func(err error) error {
		if errors.Is(context.Cause(ctx), errPublishTimeout) {
			return fmt.Errorf("publish %s: not done within --timeout %s (raise it with --timeout): %w", doc.Source, c.timeout, err)
		}
		return err
	}
	url, nc, js, err := c.kv.dial(ctx)
	if err != nil {
		return nil, timedOut(err)
	}
	defer nc.Close()

	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", doc.Source, err)
	}
	info, err := objstore.Check(ctx, js, doc.Source, checksum)
	if err == nil && info.Size != uint64(fi.Size()) {
		err = fmt.Errorf("%w: the object says %d bytes, the archive is %d", errs.ErrChecksum, info.Size, fi.Size())
	}
	switch {
	case err == nil:
		doc.Size = info.Size
		fmt.Fprintf(os.Stderr, "%s holds this archive already (%d bytes): nothing uploaded\n", doc.Source, info.Size)
		return doc, nil
	case errors.Is(err, errs.ErrChecksum) && !c.force:
		return nil, fmt.Errorf("publish: %w; a published specification may name it, and its nodes would refuse other content: choose another --object, or pass --force to replace it", err)
	case errors.Is(err, errs.ErrChecksum), errors.Is(err, objstore.ErrNoBucket), errors.Is(err, objstore.ErrNoObject):
	default:
		return nil, timedOut(c.kv.natsHint(err, url))
	}
	if _, err := objstore.Publish(ctx, js, c.publish, object, f, c.replicas); err != nil {
		return nil, timedOut(c.kv.natsHint(err, url))
	}
	// What nodes will read: the object as stored, its digest the archive's checksum.
	info, err = objstore.Check(ctx, js, doc.Source, checksum)
	if err != nil {
		return nil, fmt.Errorf("publish: the uploaded object does not read back as the archive: %w", err)
	}
	doc.Size, doc.Uploaded = info.Size, true
	fmt.Fprintf(os.Stderr, "Published %s (%d bytes)\n", doc.Source, info.Size)
	return doc, nil
}
