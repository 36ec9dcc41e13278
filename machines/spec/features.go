package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/textclip"
	"github.com/mms-io/mms/machines/errs"
)

// knownFeatures are the features this build of mms honours: the names a v2 payload's
// `requires` list may give. A feature is added here, in one line, with the code that honours
// it (FeatureRollout: nodeloop.Staging, package gate, install's revert). This is the only
// place that says what mms knows.
var knownFeatures = map[string]bool{FeatureRollout: true, FeatureKeyring: true}

// FeatureRollout is the feature a v2 specification with a rollout policy requires (Spec.Rollout,
// Entry.Rollout): a node that does not know staged rollouts must refuse it rather than install
// its changes everywhere at once.
const FeatureRollout = "rollout"

// FeatureKeyring is the feature an operator makes a v2 specification require (mms pack
// --require keyring) when it is meant only for nodes that judge its named signatures, and
// their scopes, against a keyring (Trust.Signers, package keyring): an older mms, which reads
// only go-choria's single signature, refuses it rather than take it on one bare key.
const FeatureKeyring = "keyring"

// KnownFeatures returns the features this build of mms knows, sorted: a specification that
// requires any other is refused with an *UnsupportedError.
func KnownFeatures() []string {
	out := make([]string, 0, len(knownFeatures))
	for f := range knownFeatures {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// FeaturePattern is what a feature name of a `requires` list matches.
const FeaturePattern = `^[a-z][a-z0-9_-]{0,63}$`

var featureRe = regexp.MustCompile(FeaturePattern)

// ValidFeature returns an error wrapping errs.ErrInvalidSpec when name cannot be a feature
// name of a `requires` list (FeaturePattern). Whether this mms knows the feature is
// another question (KnownFeatures).
func ValidFeature(name string) error {
	if msg := featureProblem(name); msg != "" {
		return fmt.Errorf("%w: %s", errs.ErrInvalidSpec, msg)
	}
	return nil
}

// featureProblem says why name cannot be a feature name, or "".
func featureProblem(name string) string {
	if !featureRe.MatchString(name) {
		return fmt.Sprintf("feature %q must match %s", name, featureRe)
	}
	return ""
}

// parseRequires reads a v2 payload's `requires` list: an array of unique, valid feature
// names, where an empty list is the same as none. It returns the features in payload order
// (nil for none), those this mms does not know, sorted, and the problems with the list itself.
func parseRequires(v gjson.Result) (features, unknown []string, problems []string) {
	if !v.IsArray() {
		return nil, nil, []string{fmt.Sprintf("requires must be a JSON array of feature names, got %s", abbreviate(v.Raw))}
	}
	seen := map[string]bool{}
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		i++
		if item.Type != gjson.String {
			problems = append(problems, fmt.Sprintf("requires: item %d must be a feature name (a string), got %s", i, abbreviate(item.Raw)))
			return true
		}
		name := item.Str
		switch {
		case featureProblem(name) != "":
			problems = append(problems, "requires: "+featureProblem(abbreviate(name)))
		case seen[name]:
			problems = append(problems, fmt.Sprintf("requires: feature %q is listed twice", name))
		default:
			seen[name] = true
			features = append(features, name)
			if !knownFeatures[name] {
				unknown = append(unknown, name)
			}
		}
		return true
	})
	sort.Strings(unknown)
	return features, unknown, problems
}

// abbreviate shortens s for a message, at a character boundary: a bad value may be a whole
// payload long.
func abbreviate(s string) string { return textclip.Clip(s, 80) }

// maxNamedFeatures bounds how many unknown features an *UnsupportedError names, so that a
// hostile list cannot fill a node's logs and events.
const maxNamedFeatures = 16

// UnsupportedError refuses a whole specification that requires features this build of mms
// does not know: a field an older node must not ignore rides on them, so this node cannot act
// on any of it, whatever else the specification holds. It matches errs.ErrUnsupported with
// errors.Is, not errs.ErrInvalidSpec: the specification may be valid, and the fix is a newer
// mms on the node.
type UnsupportedError struct {
	// Features are the unknown features the specification requires, sorted.
	Features []string
}

// Error names the unknown features (the first maxNamedFeatures of them) and says why.
func (e *UnsupportedError) Error() string {
	named := e.Features
	more := 0
	if len(named) > maxNamedFeatures {
		named, more = named[:maxNamedFeatures], len(named)-maxNamedFeatures
	}
	quoted := make([]string, len(named))
	for i, f := range named {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	list := strings.Join(quoted, ", ")
	if more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	} else if len(quoted) > 1 {
		list = strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
	}
	noun := "feature"
	if len(e.Features) > 1 {
		noun = "features"
	}
	knows := "none"
	if k := KnownFeatures(); len(k) > 0 {
		knows = strings.Join(k, ", ")
	}
	return fmt.Sprintf("%s: it requires %s %s, which this mms does not know (it knows %s): this node's mms is older than the specification needs; upgrade mms to act on it",
		errs.ErrUnsupported, noun, list, knows)
}

// Is makes errors.Is(err, errs.ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == errs.ErrUnsupported }
