package match

import (
	"fmt"
	"io"
	"os"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/machines/errs"

	"github.com/mms-io/mms/internal/jsondepth"
)

// Node is what a matcher is evaluated against: one node's identity, facts and PATH.
type Node struct {
	// Identity is the node's name, matched by identity(re).
	Identity string
	// Facts is the node's facts as a JSON document, read by get_fact; nil means no facts.
	// Use NewNode or LoadFacts to make sure it is valid JSON.
	Facts []byte
	// Path is the PATH searched by has_command, in os.PathListSeparator form; empty means the
	// process's $PATH at evaluation time.
	Path string
}

// NewNode returns a Node after checking that facts, when not empty, is valid JSON.
func NewNode(identity string, facts []byte, path string) (Node, error) {
	if len(facts) > 0 && !validFacts(facts) {
		return Node{}, fmt.Errorf("%w: node %q: facts are not valid JSON of at most %d levels", errs.ErrMatcher, identity, jsondepth.Max)
	}
	return Node{Identity: identity, Facts: facts, Path: path}, nil
}

// LoadFacts reads a facts file, refusing one that is not valid JSON or is larger than
// DefaultMaxFactsBytes (max_facts_bytes).
func LoadFacts(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: load facts %s: %w", errs.ErrMatcher, path, err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, DefaultMaxFactsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: load facts %s: %w", errs.ErrMatcher, path, err)
	}
	if len(data) > DefaultMaxFactsBytes {
		return nil, fmt.Errorf("%w: load facts %s: %w", errs.ErrMatcher, path,
			limitError(LimitFactsBytes, DefaultMaxFactsBytes, "bytes", "facts file "+path))
	}
	if !validFacts(data) {
		return nil, fmt.Errorf("%w: load facts %s: not valid JSON of at most %d levels", errs.ErrMatcher, path, jsondepth.Max)
	}
	return data, nil
}

// validFacts tells whether facts are valid JSON that nests within jsondepth.Max, checked
// before gjson's recursive validator sees them.
func validFacts(facts []byte) bool {
	return jsondepth.Check(facts, jsondepth.Max) == nil && gjson.ValidBytes(facts)
}
