package rollout

import (
	"fmt"
	"strconv"
	"strings"
)

// Budget is how many of the nodes that took a change may be unhealthy before the rollout
// halts: a count ("3") or a share of those nodes ("5%", in hundredths of a percent).
type Budget struct {
	// Count, when Percent is false, is the most unhealthy nodes allowed.
	Count int
	// Hundredths, when Percent is true, is the share allowed, in hundredths of a percent.
	Hundredths int
	// Percent says which of the two the budget is.
	Percent bool
}

// ParseBudget reads max_unhealthy: a count of nodes (0 or more) or a percentage ("5%", at
// most two decimals, at most 100%). The error wraps ErrInvalidPolicy.
func ParseBudget(s string) (Budget, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "%") {
		if s == "0%" {
			return Budget{Percent: true}, nil
		}
		v, err := parseShare(s)
		if err != nil {
			return Budget{}, fmt.Errorf("%w: max_unhealthy: %v", ErrInvalidPolicy, err)
		}
		return Budget{Hundredths: v, Percent: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Budget{}, fmt.Errorf("%w: max_unhealthy: %q is neither a count of nodes (0 or more) nor a percentage such as 5%%", ErrInvalidPolicy, s)
	}
	return Budget{Count: n}, nil
}

// Exceeded tells whether unhealthy of the took nodes that took the change are more than the
// budget allows: a count is exceeded by one node more; a share by unhealthy/took above it.
func (b Budget) Exceeded(unhealthy, took int) bool {
	if unhealthy <= 0 {
		return false
	}
	if !b.Percent {
		return unhealthy > b.Count
	}
	return int64(unhealthy)*10000 > int64(b.Hundredths)*int64(took)
}

// String writes the budget as ParseBudget reads it.
func (b Budget) String() string {
	if b.Percent {
		return strconv.FormatFloat(float64(b.Hundredths)/100, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(b.Count)
}
