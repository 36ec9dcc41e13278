package match

import (
	"errors"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		"",
		`has_command('facter')`,
		`identity('^web') && has_command('facter')`,
		`get_fact('cpu.count') > 4`,
		`'prod' in get_fact('tags')`,
		`identity('^(')`,
		`1+1`,
		`all(1..1000000000, # > 0)`,
		`count(1..1000, count(1..1000, true) > 0) > 0`,
		`let s = 'x'; len(s + s) > 1`,
		`map([get_fact('os')], #.family)[0] == 'debian'`,
		`has_file('/etc/passwd') or has_directory("/tmp")`,
		`$env == nil`,
		`get_fact('tags') | len() > 1`,
	} {
		f.Add(seed)
	}
	node := testNode(f)
	f.Fuzz(func(t *testing.T, src string) {
		m, err := CompileWithLimits(src, Limits{MaxTime: 5 * time.Second})
		if err != nil {
			if !errors.Is(err, errs.ErrMatcher) {
				t.Fatalf("Compile(%q): error does not wrap ErrMatcher: %v", src, err)
			}
			return
		}
		if m.String() != src {
			t.Fatalf("String() = %q, want %q", m.String(), src)
		}
		_, err = m.Match(node)
		if err != nil && !errors.Is(err, errs.ErrMatcher) {
			t.Fatalf("Match(%q): error does not wrap ErrMatcher: %v", src, err)
		}
		// Every evaluation is bounded in steps and bytes well before max_matcher_time: an
		// expression that runs out of time has found work the other limits do not count.
		var le *errs.LimitError
		if errors.As(err, &le) && le.Name == LimitTime {
			t.Fatalf("Match(%q) ran out of time", src)
		}
	})
}
