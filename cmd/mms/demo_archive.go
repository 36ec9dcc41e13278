package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mms-io/mms/demo"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

// demoArchiveBucket is the Object Store bucket of the agent's embedded server that the demo
// publishes its archives to, as mms archive --publish does.
const demoArchiveBucket = "MACHINES_ARCHIVES"

// buildArchives does what mms archive --publish does for each version of the example
// machine: it writes the machine's directory, builds its archive, uploads it to the embedded
// server's Object Store and keeps its entry, whose source is the object's obj:// URL.
func (d *demoRun) buildArchives(ctx context.Context) (string, error) {
	var last archive.BuildResult
	for _, v := range demo.Versions {
		src := d.sourceDir(v)
		if err := demo.WriteMachine(src, v); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		res, err := archive.Build(src, demoMachine, &buf)
		if err != nil {
			return "", err
		}
		object := objectName(demoMachine, res.Checksum)
		if _, err := objstore.Publish(ctx, d.js, demoArchiveBucket, object, &buf, 1); err != nil {
			return "", err
		}
		ref := objstore.Ref{Bucket: demoArchiveBucket, Name: object}
		d.entries[v] = spec.Entry{Name: demoMachine, Source: ref.String(), Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
		last = res
	}
	return fmt.Sprintf("in the Object Store bucket %s of the agent's NATS server, no HTTP server needed; %d files each with SHA256SUMS; %s's sha256 %s…",
		demoArchiveBucket, last.Files, demo.Versions[len(demo.Versions)-1], last.Checksum[:16]), nil
}
