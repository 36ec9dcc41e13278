package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

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

// Pack validates machines (a JSON array of entries, as go-choria's `mms pack` reads) and
// returns the envelope and the specification it holds. For format 1 the payload is machines
// byte for byte, exactly as go-choria packs it; for format 2 it is a versioned object holding
// the same entries.
func Pack(machines []byte, opts PackOptions) ([]byte, *Spec, error) {
	trimmed := bytes.TrimSpace(machines)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, nil, &ValidationError{Problems: []string{"machines file must hold a JSON array of entries"}}
	}
	var payload []byte
	switch opts.Format {
	case 1:
		if len(opts.Requires) > 0 {
			return nil, nil, fmt.Errorf("%w: a v1 payload has no place for requires (features %s): pack format 2", errs.ErrInvalidSpec, strings.Join(opts.Requires, ", "))
		}
		payload = machines
	case 2:
		if opts.Version <= 0 {
			return nil, nil, fmt.Errorf("%w: version must be a positive integer, got %d", errs.ErrInvalidSpec, opts.Version)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, trimmed); err != nil {
			return nil, nil, &ValidationError{Problems: []string{"machines file is not valid JSON: " + jsonProblem(trimmed)}}
		}
		p := v2Payload{
			Version:  json.Number(fmt.Sprint(opts.Version)),
			Issued:   opts.Issued.UTC().Format(time.RFC3339Nano),
			Requires: slices.Sorted(slices.Values(opts.Requires)),
			Machines: compact.Bytes(),
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
