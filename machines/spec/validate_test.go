package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func TestEntryValidation(t *testing.T) {
	long := strings.Repeat("a", 129)
	cases := []struct {
		name   string
		mutate func(e map[string]any)
		want   string // "" means valid
	}{
		{"accepts a complete entry", func(e map[string]any) {}, ""},
		{"accepts dots, dashes and underscores in names", func(e map[string]any) { e["name"] = "facts.v2_x-y" }, ""},
		{"accepts a 128 character name", func(e map[string]any) { e["name"] = long[:128] }, ""},
		{"accepts verify SHA256SUMS", func(e map[string]any) { e["verify"] = "SHA256SUMS" }, ""},
		{"accepts upper case hex", func(e map[string]any) { e["checksum"] = strings.ToUpper(sumA) }, ""},
		{"accepts credentials", func(e map[string]any) { e["username"] = "u"; e["password"] = "p" }, ""},
		{"accepts a username alone", func(e map[string]any) { e["username"] = "u" }, ""},
		{"refuses a missing name", func(e map[string]any) { delete(e, "name") }, `entry 1 (""): name is required`},
		{"refuses a path as name", func(e map[string]any) { e["name"] = "../x" }, `entry 1 ("../x"): name must match`},
		{"refuses a slash in a name", func(e map[string]any) { e["name"] = "a/b" }, `entry 1 ("a/b"): name must match`},
		{"refuses a dot-prefixed name", func(e map[string]any) { e["name"] = ".hidden" }, `name must match`},
		{"refuses a 129 character name", func(e map[string]any) { e["name"] = long }, `name must match`},
		{"refuses tmp", func(e map[string]any) { e["name"] = "tmp" }, `name must not be "tmp"`},
		{"refuses a -temp suffix", func(e map[string]any) { e["name"] = "web-temp" }, `name must not end in "-temp"`},
		{"refuses a unicode name", func(e map[string]any) { e["name"] = "wéb" }, `name must match`},
		{"refuses a missing source", func(e map[string]any) { delete(e, "source") }, `entry "web": source is required`},
		{"refuses a relative source", func(e map[string]any) { e["source"] = "web.tgz" }, `source must be an absolute URL`},
		{"refuses an http source without host", func(e map[string]any) { e["source"] = "http:///x.tgz" }, `source has no host`},
		{"refuses a missing checksum", func(e map[string]any) { delete(e, "checksum") }, `entry "web": checksum is required`},
		{"refuses a short checksum", func(e map[string]any) { e["checksum"] = "abc" }, `entry "web": checksum must be 64 hex characters`},
		{"refuses a non-hex checksum", func(e map[string]any) { e["checksum"] = strings.Repeat("g", 64) }, `checksum must be 64 hex characters`},
		{"refuses a missing verify_checksum", func(e map[string]any) { delete(e, "verify_checksum") }, `verify_checksum is required`},
		{"refuses a bad verify_checksum", func(e map[string]any) { e["verify_checksum"] = sumA + "0" }, `verify_checksum must be 64 hex characters`},
		{"refuses another checksums file", func(e map[string]any) { e["verify"] = "MD5SUMS" }, `verify must be "SHA256SUMS"`},
		{"refuses a password without username", func(e map[string]any) { e["password"] = "p" }, `password is given without username`},
		{"refuses a number where a string belongs", func(e map[string]any) { e["checksum"] = 42 }, `field checksum must be a string`},
		{"refuses a field given twice in two cases", func(e map[string]any) { e["Name"] = "web" }, `folds to it`},
		{"refuses a huge matcher", func(e map[string]any) { e["match"] = strings.Repeat("x", MaxFieldLength+1) }, `match is longer than`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := goodEntry("web")
			tc.mutate(e)
			_, err := ParsePayload(mustJSON(t, []any{e}))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tc.want)
			}
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("error does not match ErrInvalidSpec: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestSpecValidation(t *testing.T) {
	t.Run("refuses duplicate names, naming both entries", func(t *testing.T) {
		_, err := ParsePayload(mustJSON(t, []any{goodEntry("web"), goodEntry("db"), goodEntry("web")}))
		if err == nil || !strings.Contains(err.Error(), `entry "web": name is used by entry 1 too`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("lists every problem of every entry at once", func(t *testing.T) {
		bad := goodEntry("../x")
		bad["checksum"] = "abc"
		other := goodEntry("db")
		delete(other, "source")
		_, err := ParsePayload(mustJSON(t, []any{bad, other}))
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 3 {
			t.Fatalf("want 3 problems, got %v", err)
		}
		for _, want := range []string{`entry 1 ("../x"): checksum must be`, `entry 1 ("../x"): name must match`, `entry "db": source is required`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
	t.Run("one invalid entry makes the whole spec invalid", func(t *testing.T) {
		bad := goodEntry("db")
		bad["verify_checksum"] = ""
		s, err := ParsePayload(mustJSON(t, []any{goodEntry("web"), bad}))
		if err == nil || s != nil {
			t.Fatalf("got spec %v, err %v", s, err)
		}
	})
	t.Run("refuses null entries", func(t *testing.T) {
		_, err := ParsePayload([]byte(`[null]`))
		if err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses a payload that is neither array nor object", func(t *testing.T) {
		for _, p := range []string{``, `"x"`, `42`, `  `} {
			if _, err := ParsePayload([]byte(p)); !errors.Is(err, errs.ErrInvalidSpec) {
				t.Errorf("%q: got %v", p, err)
			}
		}
	})
	t.Run("accepts an empty v1 array", func(t *testing.T) {
		s, err := ParsePayload([]byte(`[]`))
		if err != nil || s.Format != 1 || len(s.Entries) != 0 {
			t.Fatalf("got %v, %v", s, err)
		}
	})
	t.Run("records unknown fields without refusing them", func(t *testing.T) {
		e := goodEntry("web")
		e["cheksum"] = sumA
		s, err := ParsePayload(mustJSON(t, []any{e}))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Unknown) != 1 || s.Unknown[0] != `entry "web": field cheksum` {
			t.Fatalf("unknown = %v", s.Unknown)
		}
	})
	for _, tc := range []struct{ name, key, known string }{
		{"an upper-case field", "SOURCE", "source"},
		{"a long s for an s (U+017F)", "\u017fource", "source"},
		{"a Kelvin sign for a k (U+212A)", "chec\u212asum", "checksum"},
	} {
		t.Run("refuses "+tc.name+", which go-choria would read as "+tc.known, func(t *testing.T) {
			raw := `[{"name":"web","source":"https://x/y.tgz","checksum":"` + sumA + `","verify_checksum":"` + sumB + `","` + tc.key + `":"https://evil/z.tgz"}]`
			_, err := ParsePayload([]byte(raw))
			if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "folds to it") || !strings.Contains(err.Error(), tc.known) {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("refuses a v2 header field that folds to a known one", func(t *testing.T) {
		raw := `{"version":5,"Version":9,"issued":"2026-01-02T03:04:05Z","machines":[]}`
		if _, err := ParsePayload([]byte(raw)); err == nil || !strings.Contains(err.Error(), "folds to it") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("refuses an envelope with Machines beside machines", func(t *testing.T) {
		raw := `{"machines":"W10=","Machines":"WzFd"}`
		if _, err := DecodeEnvelope([]byte(raw)); !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), `"Machines" is not "machines"`) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestV2Validation(t *testing.T) {
	entries := []any{goodEntry("web")}
	cases := []struct {
		name    string
		payload map[string]any
		want    string
	}{
		{"accepts a complete v2 payload", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "machines": entries}, ""},
		{"accepts an expiry after issue", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "expires": "2026-02-02T03:04:05Z", "machines": entries}, ""},
		{"refuses a missing version", map[string]any{"issued": "2026-01-02T03:04:05Z", "machines": entries}, "version is required"},
		{"refuses version zero", map[string]any{"version": 0, "issued": "2026-01-02T03:04:05Z", "machines": entries}, "version must be a positive integer, got 0"},
		{"refuses a negative version", map[string]any{"version": -3, "issued": "2026-01-02T03:04:05Z", "machines": entries}, "version must be a positive integer"},
		{"refuses a fractional version", map[string]any{"version": 1.5, "issued": "2026-01-02T03:04:05Z", "machines": entries}, "version must be a positive integer"},
		{"refuses a string version", map[string]any{"version": "7", "issued": "2026-01-02T03:04:05Z", "machines": entries}, `version must be a positive integer, got "7"`},
		{"refuses a missing issue time", map[string]any{"version": 5, "machines": entries}, "issued is required"},
		{"refuses a bad issue time", map[string]any{"version": 5, "issued": "yesterday", "machines": entries}, `issued must be an RFC3339 time, got "yesterday"`},
		{"refuses a bad expiry time", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "expires": "soon", "machines": entries}, "expires must be an RFC3339 time"},
		{"refuses an expiry before issue", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "expires": "2026-01-01T03:04:05Z", "machines": entries}, "must be after issued"},
		{"refuses missing machines", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z"}, "machines is required"},
		{"refuses machines that are not an array", map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "machines": "web"}, "machines must be a JSON array"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParsePayload(mustJSON(t, tc.payload))
			if tc.want == "" {
				if err != nil || s.Format != 2 || s.Version != 5 {
					t.Fatalf("got %+v, %v", s, err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not contain %q", err, tc.want)
			}
		})
	}
	t.Run("records unknown top-level fields", func(t *testing.T) {
		s, err := ParsePayload(mustJSON(t, map[string]any{"version": 5, "issued": "2026-01-02T03:04:05Z", "machines": entries, "owner": "ops"}))
		if err != nil || len(s.Unknown) != 1 || s.Unknown[0] != "field owner" {
			t.Fatalf("got %+v, %v", s, err)
		}
	})
}

func TestDuplicateKeysAreRefused(t *testing.T) {
	for _, payload := range []string{
		`[{"name":"web","name":"evil","source":"https://a/b.tgz","checksum":"` + sumA + `","verify_checksum":"` + sumB + `"}]`,
		`{"version":2,"version":9,"issued":"2026-01-01T00:00:00Z","machines":[]}`,
	} {
		_, err := ParsePayload([]byte(payload))
		if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("%s: got %v", payload, err)
		}
	}
}

func TestHelpfulErrors(t *testing.T) {
	t.Run("says where a machines file stops being JSON, by line and column", func(t *testing.T) {
		file := "[\n  {\"name\": \"web\",\n   \"source\": \"https://x/y.tgz\" \"checksum\": \"a\"}\n]"
		_, _, err := Pack([]byte(file), PackOptions{Format: 2, Version: 1, Issued: time.Now()})
		if err == nil || !strings.Contains(err.Error(), "line 3, column") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("names the known field a typo resembles", func(t *testing.T) {
		e := goodEntry("web")
		e["cheksum"] = e["checksum"]
		_, _, err := Pack(mustJSON(t, []any{e}), PackOptions{Format: 2, Version: 1, Issued: time.Now()})
		if err == nil || !strings.Contains(err.Error(), "field cheksum is not known to mms: did you mean checksum?") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("suggests nothing for a field like no known one", func(t *testing.T) {
		e := goodEntry("web")
		e["rollout_policy"] = "x"
		_, _, err := Pack(mustJSON(t, []any{e}), PackOptions{Format: 2, Version: 1, Issued: time.Now()})
		if err == nil || strings.Contains(err.Error(), "did you mean") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestChecksumsNormalisedOnce(t *testing.T) {
	e := goodEntry("web")
	e["checksum"] = strings.ToUpper(e["checksum"].(string))
	e["verify_checksum"] = strings.ToUpper(e["verify_checksum"].(string))
	s, err := ParsePayload(mustJSON(t, []any{e}))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Entries[0]; got.Checksum != strings.ToLower(got.Checksum) || got.VerifyChecksum != strings.ToLower(got.VerifyChecksum) {
		t.Fatalf("checksums not lower-cased at parse: %+v", got)
	}
}

func TestLineColumn(t *testing.T) {
	for _, tc := range []struct {
		data      string
		offset    int64
		line, col int
	}{
		{"[1, x]", 5, 1, 5},
		{"[\n  1, x]", 8, 2, 6},
		{"[\n\n]", 3, 3, 1},
	} {
		if l, c := lineColumn([]byte(tc.data), tc.offset); l != tc.line || c != tc.col {
			t.Errorf("lineColumn(%q, %d) = %d:%d, want %d:%d", tc.data, tc.offset, l, c, tc.line, tc.col)
		}
	}
}
