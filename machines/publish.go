package machines

import (
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// CheckPublishable answers the publisher's question: would a node that trusts trust, with the
// matcher limits limits, accept this envelope now? It refuses what every such node refuses:
// an envelope or payload that does not validate, a signature trust's keys do not verify, a
// matcher that does not compile within limits, an expired specification or one issued too far
// ahead. mms put, mms pack and mms demo ask it with the node's own limits, so that what they
// publish is what nodes act on. (Whether a version grows past the one published is the
// publisher's to ask of the bucket.)
func CheckPublishable(envelope []byte, trust spec.Trust, limits match.Limits, now time.Time) (*spec.Spec, error) {
	s, err := spec.Open(envelope, trust)
	if err != nil {
		return nil, err
	}
	mc := matcherCache{limits: limits}
	var problems []string
	for _, e := range s.Entries {
		if _, err := mc.compile(e.Match); err != nil {
			problems = append(problems, fmt.Sprintf("entry %q: %v", e.Name, err))
		}
	}
	if len(problems) > 0 {
		return nil, &spec.ValidationError{Problems: problems}
	}
	if err := spec.Admit(s, nil, trust, now); err != nil {
		return nil, err
	}
	return s, nil
}
