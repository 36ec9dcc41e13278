package machines

import (
	"errors"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/match"
)

// TestRaiseHint: a refusal or failure that hit a limit ends with the host's words on raising
// it, and stays an errs.ErrLimit; without the host's words it says only what was hit.
func TestRaiseHint(t *testing.T) {
	f := newFixture(t)
	e := f.entry("web", "1", map[string]string{"a.txt": "a"})
	e.Match = "identity('^web-with-a-long-pattern')"
	env := f.envelope(nil, e)
	for _, c := range []struct {
		hint func(string) string
		want string
	}{
		{func(limit string) string { return "the knob " + limit }, "(raise it with the knob max_matcher_length)"},
		{nil, ""},
	} {
		cfg := f.config()
		cfg.Matcher = match.Limits{MaxLength: 10}
		cfg.RaiseHint = c.hint
		rep := Reconcile(t.Context(), cfg, env)
		r := result(t, rep, "web")
		if r.Action != ActionRefuse || !errors.Is(r.Err, errs.ErrLimit) {
			t.Fatalf("result %+v, want a refusal by a limit", r)
		}
		if c.want != "" && (!strings.HasSuffix(r.Reason, c.want) || !strings.HasSuffix(r.Err.Error(), c.want)) {
			t.Errorf("reason %q, error %q, want them to end with %q", r.Reason, r.Err, c.want)
		}
		if c.want == "" && strings.Contains(r.Reason, "raise") {
			t.Errorf("reason %q names a way to raise it the host did not give", r.Reason)
		}
		plan, prev := Preview(cfg, env)
		if plan == nil || len(prev.Results) != 1 || prev.Results[0].Reason != r.Reason {
			t.Errorf("a preview says %+v, the reconcile %q", prev.Results, r.Reason)
		}
	}
}
