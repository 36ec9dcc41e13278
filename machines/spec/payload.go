package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
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
}

// Signed tells whether a trusted key verified the specification.
func (s *Spec) Signed() bool { return s.SignedBy >= 0 }

// Entry returns the entry called name.
func (s *Spec) Entry(name string) (Entry, bool) {
	for _, e := range s.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// v2Payload is the wire form of a v2 payload.
type v2Payload struct {
	Version  json.Number     `json:"version"`
	Issued   string          `json:"issued"`
	Expires  string          `json:"expires,omitempty"`
	Machines json.RawMessage `json:"machines"`
}

var v2Fields = map[string]bool{"version": true, "issued": true, "expires": true, "machines": true}

// ParsePayload decodes and validates a v1 or v2 payload. Every problem is listed in one
// *ValidationError; a specification with any invalid entry is invalid as a whole.
func ParsePayload(payload []byte) (*Spec, error) {
	sum := sha256.Sum256(payload)
	s := &Spec{Payload: payload, Digest: hex.EncodeToString(sum[:]), SignedBy: -1}
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	var problems []string
	var entries json.RawMessage
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		s.Format = 1
		entries = payload
	case len(trimmed) > 0 && trimmed[0] == '{':
		s.Format = 2
		var p []string
		entries, p = s.parseV2(payload)
		problems = append(problems, p...)
	default:
		return nil, &ValidationError{Problems: []string{"payload must be a JSON array (v1) or object (v2)"}}
	}
	if entries != nil {
		problems = append(problems, s.parseEntries(entries)...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return s, nil
}

// parseV2 fills the v2 header fields and returns the raw entries array.
func (s *Spec) parseV2(payload []byte) (json.RawMessage, []string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, []string{fmt.Sprintf("v2 payload is not valid JSON: %v", err)}
	}
	for k := range fields {
		if !v2Fields[k] {
			s.Unknown = append(s.Unknown, "field "+k)
		}
	}
	sort.Strings(s.Unknown)
	var p v2Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, []string{fmt.Sprintf("v2 payload: %v", err)}
	}
	var problems []string
	v, err := strconv.ParseInt(p.Version.String(), 10, 64)
	switch {
	case p.Version == "":
		problems = append(problems, "version is required in a v2 payload")
	case err != nil || v <= 0 || bytes.HasPrefix(fields["version"], []byte(`"`)):
		problems = append(problems, fmt.Sprintf("version must be a positive integer, got %s", p.Version))
	default:
		s.Version = v
	}
	if p.Issued == "" {
		problems = append(problems, "issued is required in a v2 payload")
	} else if t, err := time.Parse(time.RFC3339, p.Issued); err != nil {
		problems = append(problems, fmt.Sprintf("issued must be an RFC3339 time, got %q", p.Issued))
	} else {
		s.Issued = t
	}
	if p.Expires != "" {
		if t, err := time.Parse(time.RFC3339, p.Expires); err != nil {
			problems = append(problems, fmt.Sprintf("expires must be an RFC3339 time, got %q", p.Expires))
		} else {
			s.Expires = t
		}
	}
	if !s.Issued.IsZero() && !s.Expires.IsZero() && !s.Expires.After(s.Issued) {
		problems = append(problems, fmt.Sprintf("expires (%s) must be after issued (%s)", p.Expires, p.Issued))
	}
	if p.Machines == nil {
		problems = append(problems, "machines is required in a v2 payload")
	}
	return p.Machines, problems
}

// parseEntries decodes and validates the entries array.
func (s *Spec) parseEntries(raw json.RawMessage) []string {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return []string{fmt.Sprintf("machines must be a JSON array of entries: %v", err)}
	}
	var problems []string
	seen := map[string]int{}
	s.Entries = make([]Entry, 0, len(items))
	for i, item := range items {
		e, unknown, p := decodeEntry(item)
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
		s.Entries = append(s.Entries, e)
	}
	return problems
}
