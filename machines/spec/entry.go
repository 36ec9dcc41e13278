package spec

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/rollout"
)

// SumsFile is the only checksums file name an entry's `verify` field may give.
const SumsFile = "SHA256SUMS"

// MaxNameLength is the longest machine name, in characters.
const MaxNameLength = 128

// MaxFieldLength bounds every string field of an entry, in bytes (a matcher or URL longer than
// this is a mistake or an attack).
const MaxFieldLength = 8 << 10 // 8 KiB

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// isSHA256Hex tells whether s is 64 hex characters (either case), without a regexp: it runs
// twice per entry of every specification.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Entry is one machine the specification asks for, with the field names of go-choria v0.29.4.
type Entry struct {
	// Name is the machine's directory name.
	Name string `json:"name"`
	// Source is the archive's URL.
	Source string `json:"source"`
	// Checksum is the hex sha256 of the archive.
	Checksum string `json:"checksum"`
	// VerifyChecksum is the hex sha256 of the SHA256SUMS file inside the archive.
	VerifyChecksum string `json:"verify_checksum"`
	// Verify, when set, names the checksums file and must be SHA256SUMS.
	Verify string `json:"verify,omitempty"`
	// Username and Password are sent as HTTP basic auth; never logged.
	Username string `json:"username,omitempty"`
	// Password goes with Username.
	Password string `json:"password,omitempty"`
	// Match is an expr expression; empty matches every node.
	Match string `json:"match,omitempty"`
	// Governor is the Choria governor entered before downloading.
	Governor string `json:"governor,omitempty"`
	// Rollout is how the entry's change spreads through the fleet: the entry's own policy
	// (field rollout of a v2 entry), or else the specification's default (Spec.Rollout, the
	// same pointer); nil when neither is given. An entry's own policy replaces the default as
	// a whole. Policies are shared: do not change one.
	Rollout *rollout.Policy `json:"rollout,omitempty"`
}

// rolloutField is the entry's and the v2 payload's field holding a rollout policy.
const rolloutField = "rollout"

// fieldSetters maps each known field to where its value goes. Keys are matched exactly; one
// that folds to a known key is refused (see foldProblem).
var fieldSetters = map[string]func(e *Entry) *string{
	"name":            func(e *Entry) *string { return &e.Name },
	"source":          func(e *Entry) *string { return &e.Source },
	"checksum":        func(e *Entry) *string { return &e.Checksum },
	"verify_checksum": func(e *Entry) *string { return &e.VerifyChecksum },
	"verify":          func(e *Entry) *string { return &e.Verify },
	"username":        func(e *Entry) *string { return &e.Username },
	"password":        func(e *Entry) *string { return &e.Password },
	"match":           func(e *Entry) *string { return &e.Match },
	"governor":        func(e *Entry) *string { return &e.Governor },
}

// entryFields are the known entry fields, for foldProblem.
var entryFields = func() []string {
	out := []string{rolloutField}
	for k := range fieldSetters {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}()

// rolloutKind is what an entry's rollout field holds.
type rolloutKind int

const (
	rolloutAbsent rolloutKind = iota // no rollout field
	rolloutNull                      // null: the default, as when absent
	rolloutGiven                     // a value: the entry's own policy, when valid
)

// decodeEntry fills an Entry from one JSON object, returning the unknown field names, the
// problems found in the fields' types and what its rollout field holds (e.Rollout is the
// entry's own policy, when it gives a valid one). A field given twice (in any case) is a
// problem: JSON parsers disagree on which copy wins, and a signed spec must mean one thing.
func decodeEntry(item gjson.Result) (e Entry, unknown []string, problems []string, own rolloutKind) {
	if !item.IsObject() {
		return e, nil, []string{"must be a JSON object"}, rolloutAbsent
	}
	seen := map[string]string{}
	item.ForEach(func(key, value gjson.Result) bool {
		k := key.Str
		if p := foldProblem(k, entryFields); p != "" {
			problems = append(problems, p)
			return true
		}
		canon := k
		if canon == rolloutField {
			switch {
			case own != rolloutAbsent:
				problems = append(problems, "field rollout given twice")
			case value.Type == gjson.Null:
				own = rolloutNull
			default:
				own = rolloutGiven
				if p, err := rollout.ParsePolicy([]byte(value.Raw)); err != nil {
					problems = append(problems, policyProblem(err))
				} else {
					e.Rollout = &p
				}
			}
			return true
		}
		set, ok := fieldSetters[canon]
		if !ok {
			unknown = append(unknown, k)
			return true
		}
		if prev, dup := seen[canon]; dup {
			problems = append(problems, fmt.Sprintf("field %s given twice (as %q and %q)", canon, prev, k))
			return true
		}
		seen[canon] = k
		switch value.Type {
		case gjson.String:
			*set(&e) = value.Str
		case gjson.Null:
		default:
			problems = append(problems, fmt.Sprintf("field %s must be a string", canon))
		}
		return true
	})
	sort.Strings(unknown)
	return e, unknown, problems, own
}

// policyProblem says why a rollout field holds no usable policy, as a problem of a
// ValidationError ("rollout: bake: ...").
func policyProblem(err error) string {
	return "rollout: " + strings.TrimPrefix(err.Error(), rollout.ErrInvalidPolicy.Error()+": ")
}

// validate returns every problem with the entry, each a phrase about one field.
func (e Entry) validate() []string {
	var p []string
	for canon, get := range fieldSetters {
		if len(*get(&e)) > MaxFieldLength {
			p = append(p, fmt.Sprintf("%s is longer than %d bytes", canon, MaxFieldLength))
		}
	}
	if msg := nameProblem(e.Name); msg != "" {
		p = append(p, msg)
	}
	if e.Source == "" {
		p = append(p, "source is required")
	} else if msg := validSource(e.Source); msg != "" {
		p = append(p, msg)
	}
	for _, c := range []struct{ field, value string }{{"checksum", e.Checksum}, {"verify_checksum", e.VerifyChecksum}} {
		switch {
		case c.value == "":
			p = append(p, c.field+" is required")
		case !isSHA256Hex(c.value):
			p = append(p, c.field+" must be 64 hex characters (a sha256)")
		}
	}
	if e.Verify != "" && e.Verify != SumsFile {
		p = append(p, fmt.Sprintf("verify must be %q when given, got %q", SumsFile, e.Verify))
	}
	if e.Password != "" && e.Username == "" {
		p = append(p, "password is given without username")
	}
	sort.Strings(p)
	return p
}

// ValidName returns an error wrapping errs.ErrInvalidSpec when name cannot be a machine
// directory name. Choria's loader skips dot-prefixed directories, `tmp` and names ending in
// `-temp`, and a name must never leave the machines directory.
func ValidName(name string) error {
	if msg := nameProblem(name); msg != "" {
		return fmt.Errorf("%w: %q: %s", errs.ErrInvalidSpec, name, msg)
	}
	return nil
}

// nameProblem returns why name cannot be a machine directory name, or "" when it can.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "name is required"
	case !nameRe.MatchString(name):
		return fmt.Sprintf("name must match %s", nameRe)
	case name == "tmp":
		return `name must not be "tmp" (Choria's loader skips it)`
	case strings.HasSuffix(name, "-temp"):
		return `name must not end in "-temp" (Choria's loader skips it)`
	}
	return ""
}

// validSource returns why source is not a usable archive URL, or "". Which schemes a node
// fetches from is the node's policy, checked when it fetches.
func validSource(source string) string {
	u, err := url.Parse(source)
	if err != nil {
		return "source is not a URL"
	}
	if u.Scheme == "" {
		return "source must be an absolute URL with a scheme"
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return "source has no host"
	}
	return ""
}

// label names an entry in messages: by name when the name is valid, by position otherwise.
func label(i int, name string) string {
	if nameProblem(name) == "" {
		return fmt.Sprintf("entry %q", name)
	}
	return fmt.Sprintf("entry %d (%q)", i+1, name)
}
