package spec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/rollout"
)

const (
	// canary is a policy as an operator writes it.
	canary = `{"waves":["1%","10%","50%","100%"],"bake":"5m","healthy_states":["RUN"],"failed_states":["FAILED"],"max_unhealthy":"5%"}`
	// allAtOnce is another, for an entry of its own.
	allAtOnce = `{"waves":["100%"],"bake":"0s","on_halt":"hold"}`
)

// mustPolicy parses a policy for a test's expectations.
func mustPolicy(t testing.TB, data string) *rollout.Policy {
	t.Helper()
	p, err := rollout.ParsePolicy([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// v2Rollout returns a v2 payload with header fields extra (raw JSON, or "") and the entries
// given as raw JSON objects.
func v2Rollout(extra string, entries ...string) []byte {
	if extra != "" {
		extra += ","
	}
	return []byte(`{"version":5,"issued":"2026-01-02T03:04:05Z",` + extra + `"machines":[` + strings.Join(entries, ",") + `]}`)
}

// rawEntry returns a valid entry named name as a JSON object, with extra fields (raw JSON).
func rawEntry(t testing.TB, name, extra string) string {
	t.Helper()
	e := string(mustJSON(t, goodEntry(name)))
	if extra == "" {
		return e
	}
	return strings.TrimSuffix(e, "}") + "," + extra + "}"
}

func TestRolloutPolicies(t *testing.T) {
	knowFeatures(t, FeatureRollout)
	req := `"requires":["rollout"]`

	t.Run("an entry without a policy of its own takes the default; one with its own keeps it whole", func(t *testing.T) {
		s, err := ParsePayload(v2Rollout(req+`,"rollout":`+canary,
			rawEntry(t, "web", ""), rawEntry(t, "db", `"rollout":`+allAtOnce), rawEntry(t, "cache", `"rollout":null`)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s.Rollout, mustPolicy(t, canary)) {
			t.Fatalf("default %+v", s.Rollout)
		}
		web, db, cache := s.Entries[0], s.Entries[1], s.Entries[2]
		if web.Rollout != s.Rollout || cache.Rollout != s.Rollout {
			t.Errorf("web %p and cache %p do not take the default %p", web.Rollout, cache.Rollout, s.Rollout)
		}
		// no field-by-field merge: db's bake is its own, its states are none
		if !reflect.DeepEqual(db.Rollout, mustPolicy(t, allAtOnce)) || db.Rollout.HealthyStates != nil || db.Rollout.MaxUnhealthy.Percent {
			t.Errorf("db %+v", db.Rollout)
		}
		if len(s.Unknown) != 0 {
			t.Errorf("unknown %q", s.Unknown)
		}
	})
	t.Run("entries have no policy when none is given anywhere", func(t *testing.T) {
		s, err := ParsePayload(v2Rollout(req, rawEntry(t, "web", "")))
		if err != nil || s.Rollout != nil || s.Entries[0].Rollout != nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("a null default is none", func(t *testing.T) {
		s, err := ParsePayload(v2Rollout(`"rollout":null`, rawEntry(t, "web", `"rollout":null`)))
		if err != nil || s.Rollout != nil || s.Entries[0].Rollout != nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("an entry's own policy alone is enough", func(t *testing.T) {
		s, err := ParsePayload(v2Rollout(req, rawEntry(t, "web", ""), rawEntry(t, "db", `"rollout":`+canary)))
		if err != nil || s.Rollout != nil || s.Entries[0].Rollout != nil || !reflect.DeepEqual(s.Entries[1].Rollout, mustPolicy(t, canary)) {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("a v1 spec reads the same without a policy", func(t *testing.T) {
		s, err := ParsePayload(mustJSON(t, []any{goodEntry("web")}))
		if err != nil || s.Rollout != nil || s.Entries[0].Rollout != nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})

	for _, c := range []struct {
		name    string
		payload []byte
		says    []string
	}{
		{"refuses a v1 entry with a policy: go-choria would install it at once",
			[]byte(`[` + rawEntry(t, "web", `"rollout":`+canary) + `]`),
			[]string{`entry "web": a rollout policy needs a v2 specification that requires rollout: go-choria v0.29.4 would ignore it and install at once`}},
		{"refuses a v1 entry with a null policy",
			[]byte(`[` + rawEntry(t, "web", `"rollout":null`) + `]`), []string{`entry "web": a rollout policy needs a v2 specification`}},
		{"refuses a default policy without requires",
			v2Rollout(`"rollout":`+canary, rawEntry(t, "web", "")),
			[]string{`a rollout policy is given but requires does not list "rollout" (mms pack adds it)`}},
		{"refuses an entry's policy without requires",
			v2Rollout(`"requires":[]`, rawEntry(t, "web", `"rollout":`+canary)), []string{`requires does not list "rollout" (mms pack adds it)`}},
		{"refuses an invalid entry policy without requires, saying both",
			v2Rollout("", rawEntry(t, "web", `"rollout":{"waves":["5%"]}`)), []string{`entry "web": rollout: waves: the last wave is 5%`, `requires does not list "rollout"`}},
		{"refuses an invalid default, naming the field",
			v2Rollout(req+`,"rollout":{"waves":["100%"],"bake":"-1s"}`, rawEntry(t, "web", "")), []string{`rollout: bake: "-1s" is negative`}},
		{"refuses an invalid entry policy, naming the entry and the field",
			v2Rollout(req+`,"rollout":`+canary, rawEntry(t, "web", `"rollout":{"waves":["100%"],"on_halt":"later"}`)),
			[]string{`entry "web": rollout: on_halt: "later" is neither`}},
		{"refuses an unknown field of a policy",
			v2Rollout(req, rawEntry(t, "web", `"rollout":{"waves":["100%"],"bake_time":"1m"}`)), []string{`entry "web": rollout: unknown field "bake_time"`}},
		{"refuses a policy that is not an object",
			v2Rollout(req, rawEntry(t, "web", `"rollout":"canary"`)), []string{`entry "web": rollout: must be a JSON object, got "canary"`}},
		{"refuses a default that is not an object",
			v2Rollout(req+`,"rollout":["1%","100%"]`, rawEntry(t, "web", "")), []string{`rollout: must be a JSON object`}},
		{"refuses rollout given twice in an entry",
			v2Rollout(req, rawEntry(t, "web", `"rollout":`+canary+`,"rollout":null`)), []string{`entry "web": field rollout given twice`}},
		{"refuses rollout given twice in the payload",
			v2Rollout(req+`,"rollout":`+canary+`,"rollout":`+canary, rawEntry(t, "web", "")), []string{`field rollout given twice`}},
		{"refuses Rollout in an entry, which folds to rollout",
			v2Rollout(req, rawEntry(t, "web", `"Rollout":`+canary)), []string{`field "Rollout" is not "rollout" but folds to it`}},
		{"refuses Rollout in the payload",
			v2Rollout(req+`,"Rollout":`+canary, rawEntry(t, "web", "")), []string{`field "Rollout" is not "rollout" but folds to it`}},
		{"refuses the whole spec for one bad policy",
			v2Rollout(req, rawEntry(t, "web", ""), rawEntry(t, "db", `"rollout":{}`)), []string{`entry "db": rollout: waves: required`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParsePayload(c.payload)
			if s != nil || !errors.Is(err, errs.ErrInvalidSpec) {
				t.Fatalf("got %+v, %v", s, err)
			}
			for _, want := range c.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		})
	}

	t.Run("a node that does not know rollouts refuses a spec with a policy as unsupported", func(t *testing.T) {
		knowFeatures(t)
		_, err := ParsePayload(v2Rollout(req+`,"rollout":`+canary, rawEntry(t, "web", "")))
		var u *UnsupportedError
		if !errors.As(err, &u) || !reflect.DeepEqual(u.Features, []string{"rollout"}) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an entry writes its policy back in its wire form", func(t *testing.T) {
		s, err := ParsePayload(v2Rollout(req, rawEntry(t, "web", `"rollout":`+allAtOnce)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s.Entries[0])
		if err != nil || !strings.Contains(string(b), `"rollout":{"waves":["100%"],"bake":"0s","healthy_deadline":"5m","max_unhealthy":"0","on_halt":"hold"}`) {
			t.Fatalf("got %s, %v", b, err)
		}
		var back Entry
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, s.Entries[0]) {
			t.Fatalf("reads back %+v, %v", back, err)
		}
		if b, _ := json.Marshal(Entry{Name: "web"}); strings.Contains(string(b), "rollout") {
			t.Fatalf("an entry without a policy writes %s", b)
		}
	})
}

func TestPackRollout(t *testing.T) {
	knowFeatures(t, FeatureRollout)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v2 := PackOptions{Format: 2, Version: 9, Issued: now}
	entries := `[` + rawEntry(t, "web", "") + `,` + rawEntry(t, "db", `"rollout":`+allAtOnce) + `]`

	t.Run("packs the object form: the default as written, and requires rollout", func(t *testing.T) {
		pub, priv := newKey(t)
		file := "{\n  \"rollout\": " + strings.ReplaceAll(canary, ",", ", ") + ",\n  \"machines\": " + entries + "\n}\n"
		opts := v2
		opts.Key = priv
		env, s, err := Pack([]byte(file), opts)
		if err != nil {
			t.Fatal(err)
		}
		var policy bytes.Buffer
		json.Compact(&policy, []byte(canary))
		if !strings.Contains(string(s.Payload), `"requires":["rollout"],"rollout":`+policy.String()+`,"machines":[`) {
			t.Errorf("payload %s", s.Payload)
		}
		o, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o.Rollout, mustPolicy(t, canary)) || o.Entries[0].Rollout != o.Rollout || !reflect.DeepEqual(o.Entries[1].Rollout, mustPolicy(t, allAtOnce)) {
			t.Fatalf("opened %+v", o)
		}
		if !reflect.DeepEqual(o.Requires, []string{"rollout"}) {
			t.Fatalf("requires %q", o.Requires)
		}
	})
	t.Run("packs an array whose entries have policies, requiring rollout", func(t *testing.T) {
		_, s, err := Pack([]byte(entries), v2)
		if err != nil || !reflect.DeepEqual(s.Requires, []string{"rollout"}) || s.Rollout != nil || s.Entries[1].Rollout == nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("adds rollout once, sorted among the features asked for", func(t *testing.T) {
		knowFeatures(t, FeatureRollout, "keyring", "zeta")
		opts := v2
		opts.Requires = []string{"zeta", "rollout", "keyring"}
		_, s, err := Pack([]byte(entries), opts)
		if err != nil || !reflect.DeepEqual(s.Requires, []string{"keyring", "rollout", "zeta"}) {
			t.Fatalf("got %+v, %v", s, err)
		}
		opts.Requires = []string{"zeta"}
		if _, s, err = Pack([]byte(entries), opts); err != nil || !reflect.DeepEqual(s.Requires, []string{"rollout", "zeta"}) {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("packs the object form without a policy as the same entries, requiring nothing", func(t *testing.T) {
		plain := `[` + rawEntry(t, "web", "") + `]`
		_, a, err := Pack([]byte(`{"machines":`+plain+`}`), v2)
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := Pack([]byte(plain), v2)
		if err != nil || !bytes.Equal(a.Payload, b.Payload) || a.Requires != nil {
			t.Fatalf("object %s, array %s, %v", a.Payload, b.Payload, err)
		}
		_, n, err := Pack([]byte(`{"rollout":null,"machines":`+plain+`}`), v2)
		if err != nil || !bytes.Equal(n.Payload, b.Payload) {
			t.Fatalf("null rollout: %s, %v", n.Payload, err)
		}
		_, v1, err := Pack([]byte(`{"machines":`+plain+`}`), PackOptions{Format: 1})
		if err != nil || string(v1.Payload) != plain {
			t.Fatalf("v1 from the object form: %s, %v", v1.Payload, err)
		}
	})
	t.Run("packs a plain array for v1 byte for byte, as before", func(t *testing.T) {
		plain := "[\n  " + rawEntry(t, "web", "") + "\n]\n"
		_, s, err := Pack([]byte(plain), PackOptions{Format: 1})
		if err != nil || string(s.Payload) != plain {
			t.Fatalf("got %q, %v", s.Payload, err)
		}
	})

	for _, c := range []struct {
		name, file string
		format     int
		is         error
		says       string
	}{
		{"refuses format 1 with a default policy", `{"rollout":` + canary + `,"machines":[]}`, 1, errs.ErrInvalidSpec, "install at once): pack format 2"},
		{"refuses format 1 with an entry's policy", entries, 1, errs.ErrInvalidSpec, "the machines file has a rollout policy, which a v1 payload has no place for"},
		{"refuses an unknown field of the object", `{"rollout":` + canary + `,"machines":[],"version":3}`, 2, errs.ErrInvalidSpec, `machines file: field "version" is not known: the object holds only rollout (the default policy) and machines (the entries)`},
		{"refuses a field of the object given twice", `{"machines":[],"machines":[]}`, 2, errs.ErrInvalidSpec, "machines file: field machines given twice"},
		{"refuses a key that folds to one of the object's", `{"Machines":[]}`, 2, errs.ErrInvalidSpec, `machines file: field "Machines" is not "machines" but folds to it`},
		{"refuses the object without machines", `{"rollout":` + canary + `}`, 2, errs.ErrInvalidSpec, "machines file: field machines is required"},
		{"refuses machines that are not an array", `{"machines":{"name":"web"}}`, 2, errs.ErrInvalidSpec, "machines file: field machines must be a JSON array"},
		{"refuses an invalid default policy, naming the field", `{"rollout":{"waves":["100%"],"bake":"9d"},"machines":[]}`, 2, errs.ErrInvalidSpec, `rollout: bake: "9d" is not a duration`},
		{"refuses a file that is neither array nor object", `"web"`, 2, errs.ErrInvalidSpec, "machines file must hold a JSON array of entries, or an object"},
		{"refuses a file that is not JSON", `{"machines":[}`, 2, errs.ErrInvalidSpec, "machines file is not valid JSON: line 1, column 14"},
		{"refuses a file nested too deep", `{"machines":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 2, errs.ErrInvalidSpec, "machines file: JSON nests deeper"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := v2
			opts.Format = c.format
			_, s, err := Pack([]byte(c.file), opts)
			if s != nil || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %+v, %v; want %v saying %q", s, err, c.is, c.says)
			}
		})
	}
	t.Run("an mms that does not know rollouts packs no policy", func(t *testing.T) {
		knowFeatures(t)
		for _, file := range []string{entries, `{"rollout":` + canary + `,"machines":[]}`} {
			_, _, err := Pack([]byte(file), v2)
			if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), `this mms does not know the feature "rollout" yet`) {
				t.Errorf("%s: got %v", file, err)
			}
		}
	})
}
