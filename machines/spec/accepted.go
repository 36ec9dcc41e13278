package spec

import (
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
	// Signers are the keys, in hex, of the keyring signers whose signatures counted for it,
	// when a keyring's signers verified it, and SignersRequired how many the keyring needed
	// then: its version binds only while that many of them are still signers of the keyring
	// the node holds.
	Signers         []string `json:"signers,omitempty"`
	SignersRequired int      `json:"signers_required,omitempty"`
}

// Binds tells whether a's version is a floor for the next specification of a node that now
// trusts trust (TUF's fast-forward recovery): a version accepted with no key, signed by a key
// no longer trusted (removed after a compromise or at the end of a rotation), or signed by
// keyring signers of whom fewer than were needed to sign it are still signers of the keyring,
// does not bind. Removing a stolen signer from the keyring thus lifts the inflated version it
// signed, and never a version others signed; raising the keyring's threshold lifts none. A
// keyring the node cannot use now (expired, not reached) lifts no floor, and a node with no
// key and no keyring keeps every floor.
func (a *Accepted) Binds(trust Trust) bool {
	switch {
	case trust.Empty():
		return true
	case a.Unsigned:
		return false
	case len(a.Signers) > 0 && trust.Signers == nil:
		return false
	case len(a.Signers) > 0:
		return trust.Signers.Unusable != "" || stillSigners(a.Signers, trust.Signers) >= max(1, a.SignersRequired)
	case a.Key == "":
		return true
	}
	for _, k := range trust.Keys {
		if hex.EncodeToString(k) == a.Key {
			return true
		}
	}
	return false
}

// stillSigners counts the keys (hex) that are among ss's signers.
func stillSigners(keys []string, ss *Signers) int {
	n := 0
	for _, k := range keys {
		for _, s := range ss.List {
			if hex.EncodeToString(s.Key) == k {
				n++
				break
			}
		}
	}
	return n
}
