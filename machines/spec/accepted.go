package spec

import "time"

// Accepted is what a machines directory remembers of the last specification it accepted,
// whatever delivered it (a KV key, a machine data item, or a file given to mms apply). The
// rollback and freeze decision compares a new specification against it.
type Accepted struct {
	// Format is the payload format accepted: 1 (go-choria array) or 2 (versioned object).
	Format int `json:"format"`
	// Version is the v2 version accepted; 0 for a v1 payload.
	Version int64 `json:"version"`
	// Digest is the hex sha256 of the accepted payload, to tell an equal version with different content.
	Digest string `json:"digest"`
	// At is when it was accepted.
	At time.Time `json:"at"`
}
