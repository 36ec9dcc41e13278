package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"time"
)

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
	// Key is the trusted key that verified it, in hex: its version binds only while that key is
	// trusted. "" in records written before mms kept it (they bind, as they always did).
	Key string `json:"key,omitempty"`
	// Unsigned is true when it was accepted with no trusted key: its version does not bind
	// a node that trusts a key since.
	Unsigned bool `json:"unsigned,omitempty"`
}

// Binds tells whether a's version is a floor for the next specification of a node that now
// trusts trusted (TUF's fast-forward recovery): a version accepted with no key, or signed by a
// key no longer trusted (removed after a compromise or at the end of a rotation), does not
// bind specifications signed by another trusted key. A node with no key keeps every floor.
func (a *Accepted) Binds(trusted []ed25519.PublicKey) bool {
	switch {
	case len(trusted) == 0:
		return true
	case a.Unsigned:
		return false
	case a.Key == "":
		return true
	}
	for _, k := range trusted {
		if hex.EncodeToString(k) == a.Key {
			return true
		}
	}
	return false
}
