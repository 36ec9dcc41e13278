// Package kvspec reads and writes the mms specification in a NATS JetStream Key-Value bucket,
// shared by every NATS reader of mms: the Choria watcher's direct mode, `mms agent`, and
// `mms put`/`mms get`.
//
// It moves opaque bytes and never decodes a specification. Connect opens a connection fit for
// a long-running node; Put and Get write and read one key; a Watcher follows one key and
// delivers each new revision.
//
// The Watcher treats the KV watch as a hint and the key as the truth: it also reads the key on
// every interval and delivers a revision the watch missed, re-creates a watch that closed,
// stalled or could not be created (the bucket may not exist yet) with jittered exponential
// backoff, and stops the old watch before it starts a new one, so consumers never pile up on
// the server after reconnect storms.
package kvspec
