package rollout

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
)

// MaxWaves bounds how many waves one policy may have.
const MaxWaves = 10

// ErrInvalidPolicy means a rollout policy cannot be used as written.
var ErrInvalidPolicy = errors.New("invalid rollout policy")

// Waves are the cumulative shares of the nodes that take a change, wave by wave, in hundredths
// of a percent: ["1%", "10%", "50%", "100%"] is [100, 1000, 5000, 10000]. They grow strictly and
// the last is the whole fleet.
type Waves []int

// ParseWaves reads waves written as percentages ("1%", "12.5%", "100%"; at most two decimals),
// refusing (ErrInvalidPolicy) an empty list, more than MaxWaves, a share that does not grow past
// the one before it, and a last wave short of 100%.
func ParseWaves(shares []string) (Waves, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: waves: list at least one, the last 100%%", ErrInvalidPolicy)
	}
	if len(shares) > MaxWaves {
		return nil, fmt.Errorf("%w: waves: %d waves, at most %d", ErrInvalidPolicy, len(shares), MaxWaves)
	}
	w := make(Waves, len(shares))
	for i, s := range shares {
		v, err := parseShare(s)
		if err != nil {
			return nil, fmt.Errorf("%w: wave %d: %v", ErrInvalidPolicy, i+1, err)
		}
		if i > 0 && v <= w[i-1] {
			return nil, fmt.Errorf("%w: wave %d: %s does not grow past wave %d's %s: each wave's share counts the waves before it", ErrInvalidPolicy, i+1, s, i, shares[i-1])
		}
		w[i] = v
	}
	if w[len(w)-1] != 10000 {
		return nil, fmt.Errorf("%w: the last wave is %s: it must be 100%%, or some nodes would never take the change", ErrInvalidPolicy, shares[len(shares)-1])
	}
	return w, nil
}

// shareRe is a share's number: digits, and at most two decimals.
var shareRe = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,2})?$`)

// parseShare reads "12.5%" as 1250 hundredths of a percent.
func parseShare(s string) (int, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%q is not a percentage such as 10%%", s)
	}
	if i := strings.IndexByte(num, '.'); i >= 0 && len(num)-i-1 > 2 {
		return 0, fmt.Errorf("%q has more than two decimals", s)
	}
	if !shareRe.MatchString(num) {
		return 0, fmt.Errorf("%q is not a share above 0%% and at most 100%%, in digits", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f > 100 {
		return 0, fmt.Errorf("%q is not a share above 0%% and at most 100%%", s)
	}
	return int(math.Round(f * 100)), nil
}

// String writes the waves back as percentages.
func (w Waves) String() string {
	parts := make([]string, len(w))
	for i, v := range w {
		parts[i] = strconv.FormatFloat(float64(v)/100, 'f', -1, 64) + "%"
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// WaveOf returns the wave (0 for the first) that node identity is in for the change that
// brings entry to checksum: the first wave whose share covers the node's point, a number in
// [0, 1) drawn from sha256(identity, entry, checksum). Every node computes it alone; across a
// fleet the waves hold their shares of the nodes, and a new checksum draws new points.
func (w Waves) WaveOf(identity, entry, checksum string) int {
	p := point(identity, entry, checksum)
	for i, share := range w {
		if p < uint64(share) {
			return i
		}
	}
	return len(w) - 1 // not reached for valid waves: the last is 10000
}

// point is the node's place in the change, in [0, 10000): hundredths of a percent. The three
// parts are length-prefixed, so that no two triples hash alike.
func point(identity, entry, checksum string) uint64 {
	h := sha256.New()
	for _, s := range []string{identity, entry, strings.ToLower(checksum)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	// 64 uniform bits scaled to [0, 10000) by multiplying, not taking a remainder: no share
	// is favoured.
	hi, _ := bits.Mul64(binary.BigEndian.Uint64(sum[:8]), 10000)
	return hi
}
