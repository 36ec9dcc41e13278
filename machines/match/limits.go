package match

import (
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// Default limits. Zero in a Limits field means "use the default", never "unlimited".
const (
	// DefaultMaxLength is the longest expression accepted, in characters.
	DefaultMaxLength = 4096
	// DefaultMaxNodes is the largest expression accepted, in AST nodes.
	DefaultMaxNodes = 1000
	// DefaultMaxSteps is how many loop iterations and function calls one evaluation may make.
	DefaultMaxSteps = 100_000
	// DefaultMaxBytes is how many bytes one evaluation may build by string concatenation or
	// take out of the facts with get_fact: 8 MiB.
	DefaultMaxBytes = 8 << 20
	// DefaultMaxTime is how long one evaluation may run.
	DefaultMaxTime = 2 * time.Second
	// DefaultMaxFactsBytes is the largest facts file LoadFacts reads: 16 MiB.
	DefaultMaxFactsBytes = 16 << 20
	// maxCachedPatterns bounds the regular expressions one Matcher caches; patterns past it
	// (only possible when computed at run time) are compiled on every call.
	maxCachedPatterns = 64
)

// Limit names, as used for watcher properties and CLI flags.
const (
	// LimitLength names Limits.MaxLength.
	LimitLength = "max_matcher_length"
	// LimitNodes names Limits.MaxNodes.
	LimitNodes = "max_matcher_nodes"
	// LimitSteps names Limits.MaxSteps.
	LimitSteps = "max_matcher_steps"
	// LimitBytes names Limits.MaxBytes.
	LimitBytes = "max_matcher_bytes"
	// LimitTime names Limits.MaxTime.
	LimitTime = "max_matcher_time"
	// LimitFactsBytes names the size limit of LoadFacts.
	LimitFactsBytes = "max_facts_bytes"
)

// Limits bound what one matcher may cost. Zero fields take the matching Default value.
type Limits struct {
	// MaxLength is the longest expression accepted, in characters (max_matcher_length).
	MaxLength int
	// MaxNodes is the largest expression accepted, in AST nodes (max_matcher_nodes).
	MaxNodes int
	// MaxSteps is how many loop iterations and function calls one evaluation may make
	// (max_matcher_steps).
	MaxSteps int
	// MaxBytes is how many bytes one evaluation may build by string concatenation or take out
	// of the facts (max_matcher_bytes).
	MaxBytes int
	// MaxTime is how long one evaluation may run (max_matcher_time).
	MaxTime time.Duration
}

// withDefaults returns l with every zero or negative field replaced by its default.
func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = DefaultMaxLength
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultMaxNodes
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxTime <= 0 {
		l.MaxTime = DefaultMaxTime
	}
	return l
}

// limitError builds the *errs.LimitError for a matcher limit.
func limitError(name string, limit int64, unit, what string) *errs.LimitError {
	return &errs.LimitError{Name: name, Limit: limit, Unit: unit, What: what}
}
