package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
	"github.com/mms-io/mms/machines/rollout"
)

// Spec is a decoded, validated specification.
type Spec struct {
	// Format is 1 for go-choria's JSON array payload, 2 for the versioned object.
	Format int
	// Version is the v2 version, a positive integer that only grows; 0 for v1.
	Version int64
	// Issued is when a v2 specification was packed; zero for v1.
	Issued time.Time
	// Expires is when a v2 specification stops being acceptable; zero when it does not expire.
	Expires time.Time
	// Requires are the features a v2 specification requires, in payload order; nil when none
	// (v1 has no place for them). Every one is among KnownFeatures: a specification requiring
	// another is refused with an *UnsupportedError.
	Requires []string
	// Rollout is the v2 payload's default rollout policy (field rollout), which every entry
	// without its own takes (Entry.Rollout); nil when none. A specification with any policy
	// requires the feature "rollout" (FeatureRollout).
	Rollout *rollout.Policy
	// Entries are the machines asked for, in payload order.
	Entries []Entry
	// Unknown lists fields this version of mms does not know, as `entry "web": field foo`;
	// nodes ignore them and say so.
	Unknown []string
	// Payload is the exact payload bytes.
	Payload []byte
	// Digest is the hex sha256 of Payload.
	Digest string
	// Kind is the envelope it arrived in, when it came in one.
	Kind Kind
	// SignedBy is the index of the trusted key that verified the signature; -1 when unsigned
	// or when no key was configured.
	SignedBy int
	// Signer is the trusted key that verified the signature, in hex; "" when unsigned or
	// signed through a keyring.
	Signer string
	// Signing says which keyring signers signed it, when a keyring's signers verified it
	// rather than a bare trusted key; nil otherwise.
	Signing *Signing
}

// Signed tells whether a trusted key, or enough of a keyring's signers, verified the
// specification.
func (s *Spec) Signed() bool { return s.SignedBy >= 0 || s.Signing != nil }

// MayChange tells whether the signers of s may install, change or remove the machine called
// name: always for a specification a bare key signed (or an unsigned one a node was allowed to
// take), only within their scope for one a keyring's signers signed. A stolen team key thus
// cannot purge another team's machines by leaving them out.
func (s *Spec) MayChange(name string) bool { return s.Signing == nil || s.Signing.Covers(name) }

// Entry returns the entry called name.
func (s *Spec) Entry(name string) (Entry, bool) {
	for _, e := range s.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// v2Payload is the wire form of a v2 payload, as mms pack writes it.
type v2Payload struct {
	Version  json.Number     `json:"version"`
	Issued   string          `json:"issued"`
	Expires  string          `json:"expires,omitempty"`
	Requires []string        `json:"requires,omitempty"`
	Rollout  json.RawMessage `json:"rollout,omitempty"`
	Machines json.RawMessage `json:"machines"`
}

// ParsePayload decodes and validates a v1 or v2 payload. Every problem is listed in one
// *ValidationError; a specification with any invalid entry is invalid as a whole. A v2
// payload whose well-formed `requires` list names a feature this mms does not know is refused
// as a whole with an *UnsupportedError (errs.ErrUnsupported), whatever else it holds: this
// mms cannot judge the rest by rules it does not know.
func ParsePayload(payload []byte) (*Spec, error) {
	sum := sha256.Sum256(payload)
	s := &Spec{Payload: payload, Digest: hex.EncodeToString(sum[:]), SignedBy: -1}
	if err := jsondepth.Check(payload, jsondepth.Max); err != nil {
		return nil, &ValidationError{Problems: []string{"payload: " + err.Error()}}
	}
	if !gjson.ValidBytes(payload) {
		return nil, &ValidationError{Problems: []string{"payload is not valid JSON: " + jsonProblem(payload)}}
	}
	root := gjson.ParseBytes(payload)
	var problems []string
	var entries gjson.Result
	switch {
	case root.IsArray():
		s.Format = 1
		entries = root
	case root.IsObject():
		s.Format = 2
		var unsupported []string
		entries, problems, unsupported = s.parseV2(root)
		if len(unsupported) > 0 {
			return nil, &UnsupportedError{Features: unsupported}
		}
	default:
		return nil, &ValidationError{Problems: []string{"payload must be a JSON array (v1) or object (v2)"}}
	}
	if entries.Exists() {
		p, policies := s.parseEntries(entries)
		problems = append(problems, p...)
		problems = append(problems, s.rolloutProblems(policies)...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return s, nil
}

// MaxVersionLead is how far a v2 version may be ahead of its issue time, read as Unix
// milliseconds (mms pack's default): a year.
const MaxVersionLead = 366 * 24 * time.Hour

// payloadFields are the known fields of a v2 payload, for foldProblem.
var payloadFields = []string{"expires", "issued", "machines", "requires", rolloutField, "version"}

// parseV2 fills the v2 header fields and returns the entries array, the problems, and the
// features the payload requires that this mms does not know (only when its requires list is
// well-formed and the only key that folds to "requires": anything else is a problem).
func (s *Spec) parseV2(root gjson.Result) (gjson.Result, []string, []string) {
	var problems []string
	fields := map[string]gjson.Result{}
	requiresGiven := 0
	root.ForEach(func(key, value gjson.Result) bool {
		k := key.Str
		if strings.EqualFold(k, "requires") {
			requiresGiven++ // "requires" itself, or a key that folds to it
		}
		if p := foldProblem(k, payloadFields); p != "" {
			problems = append(problems, p)
			return true
		}
		switch k {
		case "version", "issued", "expires", "machines", "requires", rolloutField:
		default:
			s.Unknown = append(s.Unknown, "field "+k)
		}
		if _, dup := fields[k]; dup {
			problems = append(problems, fmt.Sprintf("field %s given twice", k))
		}
		fields[k] = value
		return true
	})
	sort.Strings(s.Unknown)

	var unsupported []string
	if requires, ok := fields["requires"]; ok {
		features, unknown, p := parseRequires(requires)
		problems = append(problems, p...)
		s.Requires = features
		if len(p) == 0 && requiresGiven == 1 {
			unsupported = unknown
		}
	}

	version, ok := fields["version"]
	v, err := strconv.ParseInt(version.Raw, 10, 64)
	switch {
	case !ok:
		problems = append(problems, "version is required in a v2 payload")
	case version.Type != gjson.Number || err != nil || v <= 0:
		problems = append(problems, fmt.Sprintf("version must be a positive integer, got %s", version.Raw))
	default:
		s.Version = v
	}
	s.Issued, problems = timeField(fields, "issued", true, problems)
	s.Expires, problems = timeField(fields, "expires", false, problems)
	if !s.Issued.IsZero() && s.Version > VersionAt(s.Issued.Add(MaxVersionLead)) {
		problems = append(problems, fmt.Sprintf("version %d is implausibly far ahead of the issue time %s (mms pack makes it the issue time in Unix milliseconds): a version like it would freeze every node", s.Version, fields["issued"].Str))
	}
	if !s.Issued.IsZero() && !s.Expires.IsZero() && !s.Expires.After(s.Issued) {
		problems = append(problems, fmt.Sprintf("expires (%s) must be after issued (%s)", fields["expires"].Str, fields["issued"].Str))
	}
	if v, ok := fields[rolloutField]; ok && v.Type != gjson.Null {
		if p, err := rollout.ParsePolicy([]byte(v.Raw)); err != nil {
			problems = append(problems, policyProblem(err))
		} else {
			s.Rollout = &p
		}
	}
	machines, ok := fields["machines"]
	switch {
	case !ok:
		problems = append(problems, "machines is required in a v2 payload")
	case !machines.IsArray():
		problems = append(problems, "machines must be a JSON array of entries")
		machines = gjson.Result{}
	}
	return machines, problems, unsupported
}

// timeField reads an RFC3339 time field of a v2 payload.
func timeField(fields map[string]gjson.Result, name string, required bool, problems []string) (time.Time, []string) {
	f, ok := fields[name]
	if !ok {
		if required {
			problems = append(problems, name+" is required in a v2 payload")
		}
		return time.Time{}, problems
	}
	t, err := time.Parse(time.RFC3339, f.Str)
	if f.Type != gjson.String || err != nil {
		return time.Time{}, append(problems, fmt.Sprintf("%s must be an RFC3339 time, got %s", name, f.Raw))
	}
	if t.IsZero() {
		// Zero is how "none" reads in memory: a zero expires must not mean "never".
		return time.Time{}, append(problems, fmt.Sprintf("%s is the zero time %s, which is no time: leave the field out for none", name, f.Str))
	}
	return t, problems
}

// parseEntries decodes and validates the entries array, giving each entry its effective
// rollout policy; it says whether any entry has a policy of its own.
func (s *Spec) parseEntries(items gjson.Result) (problems []string, policies bool) {
	seen := map[string]int{}
	s.Entries = make([]Entry, 0, 16)
	i := 0
	items.ForEach(func(_, item gjson.Result) bool {
		e, unknown, p, own := decodeEntry(item)
		switch {
		case own != rolloutAbsent && s.Format == 1:
			p = append(p, "a rollout policy needs a v2 specification that requires rollout: go-choria v0.29.4 would ignore it and install at once")
		case own == rolloutGiven:
			policies = true // even when invalid: say too what it would require
		default:
			e.Rollout = s.Rollout // none of its own, or null: the default
		}
		lbl := label(i, e.Name)
		for _, u := range unknown {
			s.Unknown = append(s.Unknown, fmt.Sprintf("%s: field %s", lbl, u))
		}
		p = append(p, e.validate()...)
		for _, msg := range p {
			problems = append(problems, fmt.Sprintf("%s: %s", lbl, msg))
		}
		if e.Name != "" {
			if first, dup := seen[e.Name]; dup {
				problems = append(problems, fmt.Sprintf("%s: name is used by entry %d too", lbl, first+1))
			} else {
				seen[e.Name] = i
			}
		}
		// Checksums are normalised once, here: every layer below compares them as they are.
		e.Checksum, e.VerifyChecksum = strings.ToLower(e.Checksum), strings.ToLower(e.VerifyChecksum)
		s.Entries = append(s.Entries, e)
		i++
		return true
	})
	return problems, policies
}

// rolloutProblems says what is wrong with a v2 specification that has a rollout policy (the
// default, or, when policies, an entry's own) and does not require the feature: a node that
// does not know rollouts would install its changes at once, everywhere.
func (s *Spec) rolloutProblems(policies bool) []string {
	if s.Format != 2 || (s.Rollout == nil && !policies) || slices.Contains(s.Requires, FeatureRollout) {
		return nil
	}
	return []string{fmt.Sprintf("a rollout policy is given but requires does not list %q (mms pack adds it): a node that does not know rollouts would install the change everywhere at once", FeatureRollout)}
}
