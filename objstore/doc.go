// Package objstore reads machine archives from the NATS JetStream Object Store, for specs
// whose entries name their source as obj://BUCKET/NAME, over the JetStream connection the host
// already has; it also publishes archives there and checks them for publishers.
//
// The trust rule is the HTTP fetcher's: the entry's checksum in the signed specification
// decides, never the transport. The Object Store keeps its own SHA-256 digest of each object;
// Fetch compares it with the signed checksum before reading a byte (a mismatch is refused at
// once, naming both), then hashes the content as it streams and refuses it unless it hashes to
// the signed checksum. nats.go's own check of the content against the store's digest counts
// too: a failure is refused, a success is never taken instead of ours. Whoever can write to the
// bucket can replace an object and its digest together; the signed checksum is what stops them.
//
// Fetcher is the obj:// source of machines.Config.Sources, the twin of fetch.Fetcher: the same
// Options (MaxBytes, Timeout, Retries, RetryBase, and ConnectTimeout for each request to the
// server), the same limit names in *errs.LimitError (max_download_bytes, download_timeout),
// the same retries of transient failures with jittered growing waits, the same rewinding of an
// output that can be rewound before retrying a broken stream, and errors that read
// `GET obj://BUCKET/NAME: reason` and match errs.ErrFetch unless they are a limit, a checksum
// or an invalid specification: both run on fetch.Run, which holds those rules once, and fail
// with a *fetch.Error. A missing bucket (ErrNoBucket), a missing or deleted object
// (ErrNoObject) and a refused access (ErrDenied) are never retried within a call: the host's
// memory of failed downloads backs them off across reconciles, as it does an HTTP 404.
//
// An obj:// URL carries no credentials, port, query or fragment: the connection's own user
// and permissions apply. An object that is a link to another is refused; name the target.
package objstore
