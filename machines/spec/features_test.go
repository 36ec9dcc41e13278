package spec

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// knowFeatures makes this mms know exactly names until t ends, as if the code honouring them
// were there (and whatever the build's tags add).
func knowFeatures(t testing.TB, names ...string) {
	t.Helper()
	saved := knownFeatures
	knownFeatures = map[string]bool{}
	for _, f := range names {
		knownFeatures[f] = true
	}
	t.Cleanup(func() { knownFeatures = saved })
}

// v2With returns a valid v2 payload with one entry and the extra header fields given as raw
// JSON (`"requires":["x"]`).
func v2With(t testing.TB, extra string) []byte {
	t.Helper()
	entries := string(mustJSON(t, []any{goodEntry("web")}))
	if extra != "" {
		extra += ","
	}
	return []byte(`{"version":5,"issued":"2026-01-02T03:04:05Z",` + extra + `"machines":` + entries + `}`)
}

func TestKnownFeatures(t *testing.T) {
	t.Run("this build knows keyring and rollout", func(t *testing.T) {
		var others []string
		for _, f := range KnownFeatures() {
			if f != "mms-test" { // -tags mms_test_features adds it, for the CLI's tests
				others = append(others, f)
			}
		}
		if !reflect.DeepEqual(others, []string{FeatureKeyring, FeatureRollout}) {
			t.Fatalf("KnownFeatures() = %q", KnownFeatures())
		}
	})
	t.Run("lists the features sorted, as a copy", func(t *testing.T) {
		knowFeatures(t, "rollout", "keyring", "m")
		k := KnownFeatures()
		if !reflect.DeepEqual(k, []string{"keyring", "m", "rollout"}) {
			t.Fatalf("KnownFeatures() = %q", k)
		}
		k[0] = "changed"
		if KnownFeatures()[0] != "keyring" {
			t.Fatal("the caller changed the known features through the slice")
		}
	})
}

func TestRequiresUnknownFeature(t *testing.T) {
	knowFeatures(t)
	t.Run("refuses a spec requiring an unknown feature, naming it", func(t *testing.T) {
		_, err := ParsePayload(v2With(t, `"requires":["rollout"]`))
		var u *UnsupportedError
		if !errors.As(err, &u) || !reflect.DeepEqual(u.Features, []string{"rollout"}) {
			t.Fatalf("got %v", err)
		}
		if !errors.Is(err, errs.ErrUnsupported) || errors.Is(err, errs.ErrInvalidSpec) {
			t.Errorf("%v: want errs.ErrUnsupported and not errs.ErrInvalidSpec", err)
		}
		for _, want := range []string{`feature "rollout"`, "this node's mms is older than the specification needs", "it knows none"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
		}
	})
	t.Run("names both of two unknown features", func(t *testing.T) {
		_, err := ParsePayload(v2With(t, `"requires":["second-sig","rollout"]`))
		if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), `features "rollout" and "second-sig", which this mms does not know`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("names only the unknown ones among known ones, and says what it knows", func(t *testing.T) {
		knowFeatures(t, "keyring")
		_, err := ParsePayload(v2With(t, `"requires":["keyring","rollout"]`))
		var u *UnsupportedError
		if !errors.As(err, &u) || !reflect.DeepEqual(u.Features, []string{"rollout"}) || !strings.Contains(err.Error(), "it knows keyring") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses it whatever else it holds: an older mms cannot judge the rest", func(t *testing.T) {
		payload := []byte(`{"version":5,"issued":"2026-01-02T03:04:05Z","requires":["rollout"],"rollout":{"waves":3},"machines":[{"name":"../x"}]}`)
		if _, err := ParsePayload(payload); !errors.Is(err, errs.ErrUnsupported) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("Open refuses it with a trusted signature too", func(t *testing.T) {
		pub, priv := newKey(t)
		env := signedEnvelope(t, v2With(t, `"requires":["rollout"]`), priv)
		s, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}})
		if s != nil || !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), `"rollout"`) {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("a badly signed one is a signature refusal first", func(t *testing.T) {
		pub, _ := newKey(t)
		_, other := newKey(t)
		env := signedEnvelope(t, v2With(t, `"requires":["rollout"]`), other)
		if _, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}}); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("names at most a bounded number of features", func(t *testing.T) {
		var names []string
		for i := range maxNamedFeatures + 5 {
			names = append(names, fmt.Sprintf("f%02d", i))
		}
		_, err := ParsePayload(v2With(t, `"requires":`+string(mustJSON(t, names))))
		if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), `"f15" and 5 more`) || strings.Contains(err.Error(), `"f16"`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRequiresValidation(t *testing.T) {
	cases := []struct {
		name, extra, want string
	}{
		{"refuses an upper-case name", `"requires":["Rollout"]`, `requires: feature "Rollout" must match ^[a-z][a-z0-9_-]{0,63}$`},
		{"refuses a name starting with a digit", `"requires":["2fa"]`, `feature "2fa" must match`},
		{"refuses an empty name", `"requires":[""]`, `feature "" must match`},
		{"refuses a space", `"requires":["roll out"]`, `feature "roll out" must match`},
		{"refuses a dot", `"requires":["roll.out"]`, `feature "roll.out" must match`},
		{"refuses a non-ASCII name", `"requires":["rollöut"]`, `must match`},
		{"refuses a 65 character name", `"requires":["` + strings.Repeat("a", 65) + `"]`, `must match`},
		{"refuses a feature listed twice", `"requires":["rollout","keyring","rollout"]`, `requires: feature "rollout" is listed twice`},
		{"refuses a number", `"requires":["rollout",7]`, `requires: item 2 must be a feature name (a string), got 7`},
		{"refuses a null item", `"requires":[null]`, `item 1 must be a feature name (a string), got null`},
		{"refuses an object item", `"requires":[{"name":"rollout"}]`, `item 1 must be a feature name`},
		{"refuses a string for the list", `"requires":"rollout"`, `requires must be a JSON array of feature names, got "rollout"`},
		{"refuses null for the list", `"requires":null`, `requires must be a JSON array of feature names, got null`},
		{"refuses an object for the list", `"requires":{}`, `requires must be a JSON array`},
		{"refuses Requires, which go-choria would read as requires", `"Requires":["rollout"]`, `field "Requires" is not "requires" but folds to it`},
		{"refuses Requires beside requires", `"requires":["rollout"],"Requires":[]`, `field "Requires" is not "requires" but folds to it`},
		{"refuses a key that folds to requires through a long s", `"require\u017f":["rollout"]`, `folds to it`},
		{"refuses requires given twice", `"requires":["rollout"],"requires":[]`, `field requires given twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePayload(v2With(t, tc.extra))
			if !errors.Is(err, errs.ErrInvalidSpec) || errors.Is(err, errs.ErrUnsupported) {
				t.Fatalf("got %v, want an invalid specification", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q does not contain %q", err, tc.want)
			}
		})
	}
	t.Run("refuses a malformed list even with known features", func(t *testing.T) {
		knowFeatures(t, "rollout")
		if _, err := ParsePayload(v2With(t, `"requires":["rollout","rollout"]`)); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("shortens a huge bad name in the message", func(t *testing.T) {
		_, err := ParsePayload(v2With(t, `"requires":["`+strings.Repeat("X", 10000)+`"]`))
		if !errors.Is(err, errs.ErrInvalidSpec) || len(err.Error()) > 400 {
			t.Fatalf("got %d bytes: %.200v", len(err.Error()), err)
		}
	})
	t.Run("suggests requires for require", func(t *testing.T) {
		if got := didYouMean("field require"); got != ": did you mean requires?" {
			t.Fatalf("didYouMean = %q", got)
		}
	})
}

func TestRequiresAccepted(t *testing.T) {
	t.Run("a v2 spec without requires opens and requires nothing", func(t *testing.T) {
		s, err := ParsePayload(v2With(t, ""))
		if err != nil || s.Requires != nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("an empty list is the same as none", func(t *testing.T) {
		s, err := ParsePayload(v2With(t, `"requires":[]`))
		if err != nil || s.Requires != nil || len(s.Unknown) != 0 {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("a v1 spec requires nothing", func(t *testing.T) {
		s, err := ParsePayload(mustJSON(t, []any{goodEntry("web")}))
		if err != nil || s.Requires != nil {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
	t.Run("known features are kept in payload order, and are not unknown fields", func(t *testing.T) {
		knowFeatures(t, "rollout", "keyring")
		s, err := ParsePayload(v2With(t, `"requires":["rollout","keyring"]`))
		if err != nil || !reflect.DeepEqual(s.Requires, []string{"rollout", "keyring"}) || len(s.Unknown) != 0 {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
}

func TestPackRequires(t *testing.T) {
	machines := mustJSON(t, []any{goodEntry("web")})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t.Run("writes known features, sorted, into the v2 payload, and Open reads them", func(t *testing.T) {
		knowFeatures(t, "rollout", "keyring")
		pub, priv := newKey(t)
		env, s, err := Pack(machines, PackOptions{Format: 2, Version: 9, Issued: now, Key: priv, Requires: []string{"rollout", "keyring"}})
		if err != nil || !reflect.DeepEqual(s.Requires, []string{"keyring", "rollout"}) {
			t.Fatalf("got %+v, %v", s, err)
		}
		if !strings.Contains(string(s.Payload), `"requires":["keyring","rollout"],"machines":`) {
			t.Errorf("payload %s", s.Payload)
		}
		o, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil || !reflect.DeepEqual(o.Requires, []string{"keyring", "rollout"}) {
			t.Fatalf("got %+v, %v", o, err)
		}
	})
	t.Run("writes no requires field when none is given", func(t *testing.T) {
		_, s, err := Pack(machines, PackOptions{Format: 2, Version: 9, Issued: now, Requires: []string{}})
		if err != nil || strings.Contains(string(s.Payload), "requires") {
			t.Fatalf("got %s, %v", s.Payload, err)
		}
	})
	t.Run("refuses a feature this mms does not know: no node of it could accept the spec", func(t *testing.T) {
		knowFeatures(t)
		_, _, err := Pack(machines, PackOptions{Format: 2, Version: 9, Issued: now, Requires: []string{"rollout"}})
		if !errors.Is(err, errs.ErrUnsupported) || !strings.Contains(err.Error(), `"rollout"`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses a bad feature name and a duplicate", func(t *testing.T) {
		knowFeatures(t, "rollout")
		for _, req := range [][]string{{"Rollout"}, {"rollout", "rollout"}} {
			if _, _, err := Pack(machines, PackOptions{Format: 2, Version: 9, Issued: now, Requires: req}); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("%q: got %v", req, err)
			}
		}
	})
	t.Run("refuses requires for v1, which has no place for it", func(t *testing.T) {
		knowFeatures(t, "rollout")
		_, _, err := Pack(machines, PackOptions{Format: 1, Requires: []string{"rollout"}})
		if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "v1 payload has no place for requires") {
			t.Fatalf("got %v", err)
		}
	})
}
