package gate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of the stream and bucket the gate lives in.
const (
	// DefaultCounters is the stream of counters.
	DefaultCounters = "MACHINES_ROLLOUT"
	// DefaultControls is the Key-Value bucket of controls.
	DefaultControls = "MACHINES_ROLLOUT_CONTROL"
	// DefaultMaxAge is how long a change's counters and controls are kept after they last
	// changed: a rollout longer than this starts counting again.
	DefaultMaxAge = 30 * 24 * time.Hour
	// subjectRoot prefixes every counter subject.
	subjectRoot = "mms.rollout"
)

// Kind is what one counter of a wave counts.
type Kind string

// The counters of each wave of a change.
const (
	// Members counts the nodes of the wave that saw the change.
	Members Kind = "members"
	// Took counts those that installed it.
	Took Kind = "took"
	// Healthy counts those whose health check passed (less those that fell unhealthy after).
	Healthy Kind = "healthy"
	// Unhealthy counts those whose health check failed.
	Unhealthy Kind = "unhealthy"
	// Reverted counts those that took the change back.
	Reverted Kind = "reverted"
)

// kinds are the counters of a wave, for parsing.
var kinds = map[Kind]bool{Members: true, Took: true, Healthy: true, Unhealthy: true, Reverted: true}

// ChangeID names the change that brings entry to checksum: 32 hex characters of a sha256 of
// both, length-prefixed. A new release is a new change with fresh counters; the same release
// is always the same change, so a halted one stays halted.
func ChangeID(entry, checksum string) string {
	h := sha256.New()
	for _, s := range []string{entry, strings.ToLower(checksum)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// counterSubject is the subject of one counter.
func counterSubject(change string, wave int, k Kind) string {
	return fmt.Sprintf("%s.%s.%d.%s", subjectRoot, change, wave, k)
}

// parseCounterSubject reads a counter subject of change back; ok is false for anything else.
func parseCounterSubject(change, subject string) (wave int, k Kind, ok bool) {
	rest, found := strings.CutPrefix(subject, subjectRoot+"."+change+".")
	if !found {
		return 0, "", false
	}
	w, kind, found := strings.Cut(rest, ".")
	if !found || !kinds[Kind(kind)] {
		return 0, "", false
	}
	n, err := strconv.Atoi(w)
	if err != nil || n < 0 || n >= maxWaves || strconv.Itoa(n) != w {
		return 0, "", false
	}
	return n, Kind(kind), true
}

// maxWaves bounds the waves read back: rollout.MaxWaves, with room.
const maxWaves = 64
