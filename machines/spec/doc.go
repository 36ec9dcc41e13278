// Package spec holds the mms specification: the signed envelope stored in NATS KV, its two
// payload formats, entry validation, the features a v2 payload may require (KnownFeatures),
// ed25519 keys and signatures, and the trust decision (rollback, freeze, expiry) that says
// whether a node may act on a specification.
package spec
