package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sync/atomic"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/nodeloop"
	"github.com/mms-io/mms/objstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The archive sources of -source.
const (
	sourceHTTP = "http" // the loopback HTTP server
	sourceObj  = "obj"  // the Object Store bucket objBucket, over each node's own connection
)

// objBucket is the Object Store bucket of -source obj.
const objBucket = "ARCHIVES"

// maxObjArchiveSize bounds -archive-size with -source obj: the embedded servers' JetStream
// store is embednats.DefaultMaxStore (256 MiB) per server, and each server holds a replica of
// the run's three archives beside the buckets.
const maxObjArchiveSize = 64 << 20 // 64 MiB

// publishObj returns a put for buildMachine that publishes each archive to objBucket (created
// with replicas) and names it obj://objBucket/NAME.
func publishObj(ctx context.Context, js jetstream.JetStream, replicas int) func(string, []byte) (string, error) {
	return func(name string, body []byte) (string, error) {
		if _, err := objstore.Publish(ctx, js, objBucket, name, bytes.NewReader(body), replicas); err != nil {
			return "", err
		}
		return objstore.Ref{Bucket: objBucket, Name: name}.String(), nil
	}
}

// countingFetcher is a node's obj:// source that counts its reads in a tally as the archive
// server counts HTTP requests: by node and by the URL's path (/NAME), one per attempt the
// Fetch made (retries within a call count, as an HTTP retry is a second request).
type countingFetcher struct {
	inner machines.Fetcher
	node  string
	t     *tally
}

func (c countingFetcher) Fetch(ctx context.Context, src fetch.Source, want string, w io.Writer) (fetch.Result, error) {
	defer c.t.enter()()
	res, err := c.inner.Fetch(ctx, src, want, w)
	path := src.URL
	if u, perr := url.Parse(src.URL); perr == nil {
		path = u.Path
	}
	c.t.count(c.node, path, max(res.Attempts, 1))
	return res, err
}

// countObjSource registers the obj:// source in cfg over js, the node's own connection, as
// the agent does, and wraps it to count node's reads in t.
func countObjSource(cfg *machines.Config, js jetstream.JetStream, node string, t *tally) error {
	if err := nodeloop.UseObjectStore(cfg, js, ""); err != nil {
		return err
	}
	inner, ok := cfg.Sources[objstore.Scheme]
	if !ok {
		return fmt.Errorf("no %s:// source was registered", objstore.Scheme)
	}
	cfg.Sources[objstore.Scheme] = countingFetcher{inner: inner, node: node, t: t}
	return nil
}

// consumerCounter counts, from the servers' advisories, the consumers created on the archive
// bucket's stream: each Object Store read opens one (an ordered consumer), so this is the
// servers' own count of reads, a check on the nodes' (a reset ordered consumer adds one).
type consumerCounter struct {
	sub *nats.Subscription
	n   atomic.Int64
}

func countConsumers(nc *nats.Conn) (*consumerCounter, error) {
	c := &consumerCounter{}
	sub, err := nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.OBJ_"+objBucket+".*", func(*nats.Msg) { c.n.Add(1) })
	if err != nil {
		return nil, err
	}
	c.sub = sub
	return c, nc.Flush()
}
