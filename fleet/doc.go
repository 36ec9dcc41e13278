// Package fleet is fleet-wide status over NATS, with no server of its own: every node
// publishes a small, versioned Status of what it runs to a Key-Value bucket (one key per node
// identity), after every reconcile that changed what it would say and on a heartbeat; readers
// (mms status --fleet) read the whole bucket and classify each node as converged, straggling,
// failed, refused or offline.
//
// A status is data, never trusted to change what a node installs. Nodes write their own key
// only, with a plain publish to its subject ($KV.BUCKET.KEY), so a node needs no permission to
// read the bucket or the JetStream API; operators read.
//
// Freshness: each status says how long it stays current (FreshFor, a few heartbeats); a reader
// counts a node whose newest status is older than that offline, and still shows what it last
// said. The bucket's max age (DefaultRetention) then drops the node out altogether.
package fleet
