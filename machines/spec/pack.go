package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
	"github.com/mms-io/mms/machines/errs"
)

// PackOptions says how to pack a machines file into a specification.
type PackOptions struct {
	// Format is 1 (go-choria compatible array) or 2 (versioned object).
	Format int
	// Version is the v2 version; it must be positive. Callers default it to VersionAt(now).
	Version int64
	// Issued is the v2 issue time.
	Issued time.Time
	// Expires is the v2 expiry time; zero for none.
	Expires time.Time
	// Requires are the features the v2 payload requires (written sorted; v1 has no place for
	// them). Each must be a valid feature name, given once, and known to this mms
	// (KnownFeatures): a specification no node of this mms could accept is not packed.
	Requires []string
	// Key signs the payload; nil packs unsigned.
	Key ed25519.PrivateKey
	// AllowUnknown packs entries with fields mms does not know; by default they are refused,
	// so that a typo such as `cheksum` never ships.
	AllowUnknown bool
}

// VersionAt is the default v2 version for a specification packed at t: Unix milliseconds, so
// that two specifications packed in the same second still get different versions.
func VersionAt(t time.Time) int64 { return t.UnixMilli() }

// Pack validates a machines file and returns the envelope and the specification it holds.
// The machines file is either a JSON array of entries, as go-choria's `mms pack` reads, or an
// object {"rollout": POLICY, "machines": [entries]} whose rollout (optional) is the default
// rollout policy of every entry without its own; nothing else may stand in that object. For
// format 1 the payload is the array byte for byte, exactly as go-choria packs it; for format 2
// it is a versioned object holding the same entries, and the policy as written. A machines file
// with a rollout policy anywhere (the default or an entry's own) needs format 2, and Pack adds
// FeatureRollout to what the specification requires.
func Pack(machines []byte, opts PackOptions) ([]byte, *Spec, error) {
	file, err := readMachinesFile(machines)
	if err != nil {
		return nil, nil, err
	}
	requires := slices.Clone(opts.Requires)
	if file.policies {
		if opts.Format == 1 {
			return nil, nil, fmt.Errorf("%w: the machines file has a rollout policy, which a v1 payload has no place for (go-choria's nodes would ignore it and install at once): pack format 2", errs.ErrInvalidSpec)
		}
		if !knownFeatures[FeatureRollout] {
			return nil, nil, fmt.Errorf("%w: the machines file has a rollout policy, and this mms does not know the feature %q yet: no node running it could accept the spec", errs.ErrUnsupported, FeatureRollout)
		}
		if !slices.Contains(requires, FeatureRollout) {
			requires = append(requires, FeatureRollout)
		}
	}
	var payload []byte
	switch opts.Format {
	case 1:
		if len(requires) > 0 {
			return nil, nil, fmt.Errorf("%w: a v1 payload has no place for requires (features %s): pack format 2", errs.ErrInvalidSpec, strings.Join(requires, ", "))
		}
		payload = file.machines
	case 2:
		if opts.Version <= 0 {
			return nil, nil, fmt.Errorf("%w: version must be a positive integer, got %d", errs.ErrInvalidSpec, opts.Version)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, bytes.TrimSpace(file.machines)); err != nil {
			return nil, nil, &ValidationError{Problems: []string{"machines file is not valid JSON: " + jsonProblem(machines)}}
		}
		p := v2Payload{
			Version:  json.Number(fmt.Sprint(opts.Version)),
			Issued:   opts.Issued.UTC().Format(time.RFC3339Nano),
			Requires: slices.Sorted(slices.Values(requires)),
			Machines: compact.Bytes(),
		}
		if file.rollout != nil {
			var policy bytes.Buffer
			if err := json.Compact(&policy, file.rollout); err != nil {
				return nil, nil, &ValidationError{Problems: []string{"machines file is not valid JSON: " + jsonProblem(machines)}}
			}
			p.Rollout = policy.Bytes()
		}
		if !opts.Expires.IsZero() {
			p.Expires = opts.Expires.UTC().Format(time.RFC3339Nano)
		}
		var err error
		if payload, err = json.Marshal(p); err != nil {
			return nil, nil, fmt.Errorf("encode v2 payload: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("%w: format must be 1 or 2, got %d", errs.ErrInvalidSpec, opts.Format)
	}
	s, err := ParsePayload(payload)
	if err != nil {
		return nil, nil, err
	}
	if len(s.Unknown) > 0 && !opts.AllowUnknown {
		var problems []string
		for _, u := range s.Unknown {
			problems = append(problems, u+" is not known to mms"+didYouMean(u)+" (allow unknown fields to pack it anyway)")
		}
		return nil, nil, &ValidationError{Problems: problems}
	}
	env, err := EncodeEnvelope(payload, opts.Key)
	if err != nil {
		return nil, nil, err
	}
	s.Kind = KindMachines
	return env, s, nil
}

// machinesFileFields are the fields of a machines file's object form, for foldProblem.
var machinesFileFields = []string{"machines", rolloutField}

// machinesFile is a machines file as Pack reads it.
type machinesFile struct {
	// machines is the array of entries, byte for byte.
	machines []byte
	// rollout is the default policy as written; nil when none (or null).
	rollout []byte
	// policies is true when the file has a rollout policy anywhere: the default, or an
	// entry's own (not null).
	policies bool
}

// readMachinesFile splits a machines file, an array of entries or the object form, into its
// parts. It judges only the shape: the payload made of it is validated as a whole.
func readMachinesFile(data []byte) (machinesFile, error) {
	const want = `machines file must hold a JSON array of entries, or an object {"rollout": {...}, "machines": [...]}`
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || (trimmed[0] != '[' && trimmed[0] != '{') {
		return machinesFile{}, &ValidationError{Problems: []string{want}}
	}
	if err := jsondepth.Check(trimmed, jsondepth.Max); err != nil {
		return machinesFile{}, &ValidationError{Problems: []string{"machines file: " + err.Error()}}
	}
	if !gjson.ValidBytes(trimmed) {
		return machinesFile{}, &ValidationError{Problems: []string{"machines file is not valid JSON: " + jsonProblem(trimmed)}}
	}
	root := gjson.ParseBytes(trimmed)
	f := machinesFile{machines: data}
	if root.IsObject() {
		var problems []string
		var entries gjson.Result
		seen := map[string]bool{}
		root.ForEach(func(key, value gjson.Result) bool {
			k := key.Str
			switch {
			case foldProblem(k, machinesFileFields) != "":
				problems = append(problems, "machines file: "+foldProblem(k, machinesFileFields))
				return true
			case !slices.Contains(machinesFileFields, k):
				problems = append(problems, fmt.Sprintf("machines file: field %q is not known: the object holds only rollout (the default policy) and machines (the entries)", abbreviate(k)))
				return true
			case seen[k]:
				problems = append(problems, fmt.Sprintf("machines file: field %s given twice", k))
				return true
			}
			seen[k] = true
			if k == rolloutField {
				if value.Type != gjson.Null {
					f.rollout, f.policies = []byte(value.Raw), true
				}
			} else {
				entries = value
			}
			return true
		})
		switch {
		case len(problems) > 0:
		case !entries.Exists():
			problems = append(problems, "machines file: field machines is required: the array of entries")
		case !entries.IsArray():
			problems = append(problems, "machines file: field machines must be a JSON array of entries")
		}
		if len(problems) > 0 {
			return machinesFile{}, &ValidationError{Problems: problems}
		}
		root, f.machines = entries, []byte(entries.Raw)
	}
	root.ForEach(func(_, item gjson.Result) bool {
		item.ForEach(func(key, value gjson.Result) bool {
			if key.Str == rolloutField && value.Type != gjson.Null {
				f.policies = true
			}
			return !f.policies
		})
		return !f.policies
	})
	return f, nil
}

// didYouMean names the known field an unknown one (`entry "web": field cheksum`) is nearest
// to, as ": did you mean checksum?", or "".
func didYouMean(unknown string) string {
	i := strings.LastIndex(unknown, "field ")
	if i < 0 {
		return ""
	}
	name := unknown[i+len("field "):]
	known := entryFields
	if !strings.HasPrefix(unknown, "entry ") {
		known = payloadFields
	}
	if k, ok := closest(name, known); ok {
		return ": did you mean " + k + "?"
	}
	return ""
}
