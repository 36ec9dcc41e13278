package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go/jetstream"
)

// maxNamedNodes is how many nodes a refusal names before it says "and N more".
const maxNamedNodes = 10

// errNodesLackFeatures means nodes that report to the status bucket do not know a feature the
// specification requires: they would refuse it as a whole.
var errNodesLackFeatures = errors.New("reporting nodes do not know what the specification requires")

// requiredFeatures are the features s requires of a node: its requires list, and rollout for
// a rollout policy.
func requiredFeatures(s *spec.Spec) []string {
	out := slices.Clone(s.Requires)
	for _, e := range s.Entries {
		if e.Rollout != nil && !slices.Contains(out, spec.FeatureRollout) {
			out = append(out, spec.FeatureRollout)
		}
	}
	return out
}

// checkFleetFeatures refuses s (errNodesLackFeatures) while a node reporting to bucket does
// not list, in its status's features, one that s requires (rollout, for a rollout policy):
// that node would refuse the whole specification and stay on the one it has. Offline nodes
// (their status past its freshness) are not counted, and said so. When the statuses cannot be read, it warns
// that the check could not be made and lets the publish go on.
func checkFleetFeatures(ctx context.Context, js jetstream.JetStream, bucket string, s *spec.Spec, now time.Time) error {
	required := requiredFeatures(s)
	if len(required) == 0 {
		return nil
	}
	what := strings.Join(required, ", ")
	if bucket == "" {
		fmt.Fprintf(os.Stderr, "warning: no --status-bucket: could not check that every node knows %s, which the specification requires\n", what)
		return nil
	}
	statuses, _, err := fleet.Read(ctx, js, bucket)
	if errors.Is(err, kvspec.ErrNoBucket) {
		fmt.Fprintf(os.Stderr, "warning: no status bucket %s (no node has reported yet): could not check that every node knows %s, which the specification requires\n", bucket, what)
		return nil
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: could not check that every node knows %s, which the specification requires: %v\n", what, err)
		return nil
	}
	var lacking []string
	offline, reporting := 0, 0
	for _, st := range statuses {
		if now.After(st.FreshUntil()) {
			offline++
			continue
		}
		reporting++
		var missing []string
		for _, f := range required {
			if !slices.Contains(st.Features, f) {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			lacking = append(lacking, fmt.Sprintf("%s (%s %s, without %s)", st.Identity, st.Host, orUnknown(st.MMSVersion), strings.Join(missing, ", ")))
		}
	}
	if offline > 0 {
		fmt.Fprintf(os.Stderr, "note: %d nodes of %s are offline (no status within its freshness) and were not checked for %s\n", offline, bucket, what)
	}
	if len(lacking) == 0 {
		return nil
	}
	slices.Sort(lacking)
	named := lacking[:min(len(lacking), maxNamedNodes)]
	more := ""
	if n := len(lacking) - len(named); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	return fmt.Errorf("%w: %d of the %d nodes reporting to %s do not know %s, which the specification requires, and would refuse it as a whole, staying on the specification they have: %s%s; upgrade their mms, or publish anyway with --force-features",
		errNodesLackFeatures, len(lacking), reporting, bucket, what, strings.Join(named, "; "), more)
}

// orUnknown is a version for a message, "(version unknown)" when empty.
func orUnknown(v string) string {
	if v == "" {
		return "(version unknown)"
	}
	return v
}
