package jsondepth

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		ok   bool
	}{
		{"accepts a document at the limit", strings.Repeat("[", 3) + strings.Repeat("]", 3), true},
		{"refuses one a level deeper", strings.Repeat("[", 4) + strings.Repeat("]", 4), false},
		{"refuses objects as arrays", `{"a":{"b":{"c":{"d":1}}}}`, false},
		{"does not count brackets in strings", `["[[[[[[", "{{{{"]`, true},
		{"does not end a string at an escaped quote", `["\"[[[[[["]`, true},
		{"counts after an escaped backslash ends a string", `["\\",[[[[]]]]]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check([]byte(tc.doc), 3); (err == nil) != tc.ok {
				t.Fatalf("Check(%s) = %v", tc.doc, err)
			}
		})
	}
	t.Run("stops 12 MB of nested arrays without recursing", func(t *testing.T) {
		doc := []byte(strings.Repeat("[", 12<<20))
		if err := Check(doc, Max); err == nil || !strings.Contains(err.Error(), "deeper than 64") {
			t.Fatalf("got %v", err)
		}
	})
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"machines":"W10=","signature":""}`))
	f.Add([]byte(`["\"", [[{}]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, 8)
		// A document without brackets is never refused; one within the bound of its count of
		// opening brackets never either.
		opens := strings.Count(string(data), "[") + strings.Count(string(data), "{")
		if opens <= 8 && err != nil {
			t.Fatalf("refused %q with %d opening brackets: %v", data, opens, err)
		}
	})
}
