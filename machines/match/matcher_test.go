package match

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// assertMatcherError checks that err wraps errs.ErrMatcher and mentions want.
func assertMatcherError(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", want)
	}
	if !errors.Is(err, errs.ErrMatcher) {
		t.Fatalf("error %q does not wrap errs.ErrMatcher", err)
	}
	assertContains(t, err, want)
}

// assertContains checks that err's text holds want.
func assertContains(t testing.TB, err error, want string) {
	t.Helper()
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

// assertLimitError checks that err is a matcher error caused by the named limit.
func assertLimitError(t testing.TB, err error, name string) {
	t.Helper()
	assertMatcherError(t, err, name)
	var le *errs.LimitError
	if !errors.As(err, &le) || le.Name != name {
		t.Fatalf("error %q is not a *errs.LimitError for %s", err, name)
	}
}

func TestCompile(t *testing.T) {
	node := testNode(t)

	t.Run("accepts the examples of go-choria's documentation", func(t *testing.T) {
		runMatchCases(t, node, []matchCase{
			{"has_command", `has_command('tool')`, true},
			{"identity and has_command", `identity('^web') && has_command('tool')`, true},
			{"identity and a missing command", `identity('^web') && has_command('facter')`, false},
			{"double quotes", `identity("^web") and has_command("tool")`, true},
			{"or and not", `!identity('^db') || has_file('/no/such/file')`, true},
		})
	})

	t.Run("matches every node when the expression is empty or blank", func(t *testing.T) {
		for _, src := range []string{"", "  \n\t"} {
			m := mustCompile(t, src)
			if !m.MatchesAll() || m.String() != src {
				t.Fatalf("Compile(%q): MatchesAll %v, String %q", src, m.MatchesAll(), m.String())
			}
			for _, n := range []Node{node, {}} {
				if ok, err := m.Match(n); !ok || err != nil {
					t.Fatalf("Match = %v, %v; want true", ok, err)
				}
			}
		}
	})

	t.Run("String returns the source expression", func(t *testing.T) {
		src := `identity('^web')  &&  true`
		m := mustCompile(t, src)
		if m.String() != src || m.MatchesAll() {
			t.Fatalf("String() = %q, MatchesAll %v", m.String(), m.MatchesAll())
		}
	})

	refusals := []struct{ name, expr, want string }{
		{"refuses an int result", `1+1`, `matcher "1+1": expected bool, but got int`},
		{"refuses a string result", `'web'`, "expected bool, but got string"},
		{"refuses an array result", `[true]`, "expected bool"},
		{"says where a syntax error is", `identity('^web') &&`, "(1:19)"},
		{"says where an unclosed string is", "has_file('/etc)", "(1:"},
		{"refuses an unknown function", `has_package('nginx')`, "unknown name has_package"},
		{"refuses an unknown variable", `identity == 'x'`, ""},
		{"refuses a wrong argument type", `has_file(1)`, "cannot use int as argument (type string)"},
		{"refuses too many arguments", `identity('a', 'b')`, "too many arguments"},
		{"refuses too few arguments", `has_command()`, "not enough arguments"},
		{"refuses the amplifying builtin repeat", `repeat('x', 1000000000) == ''`, "repeat"},
		{"refuses the amplifying builtin replace", `replace('x', '', 'yy') == ''`, "replace"},
		{"refuses the amplifying builtin join", `join(['a'], ',') == 'a'`, "join"},
		{"refuses the amplifying builtin toJSON", `toJSON(get_fact('tags')) == ''`, "toJSON"},
		{"refuses the amplifying builtin string", `string(get_fact('tags')) == ''`, "string"},
		{"refuses reduce", `reduce(1..3, #acc + #, 0) > 0`, "reduce"},
		{"refuses now, which makes a matcher depend on the clock", `now().Year() > 2000`, "now"},
		{"refuses sortBy", `sortBy(get_fact('tags'), #)[0] == 'a'`, "sortBy"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.expr)
			if m != nil {
				t.Fatalf("Compile(%q) returned a matcher", tc.expr)
			}
			assertMatcherError(t, err, tc.want)
		})
	}
}

func TestLimits(t *testing.T) {
	node := testNode(t)

	t.Run("refuses an expression over max_matcher_length", func(t *testing.T) {
		src := "identity('" + strings.Repeat("a", DefaultMaxLength) + "')"
		_, err := Compile(src)
		assertLimitError(t, err, LimitLength)
		if len(err.Error()) > 600 {
			t.Fatalf("error repeats the whole expression: %d bytes", len(err.Error()))
		}
	})
	t.Run("counts characters, not bytes", func(t *testing.T) {
		src := "identity('" + strings.Repeat("é", DefaultMaxLength-20) + "')"
		if _, err := Compile(src); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("refuses an expression over max_matcher_nodes", func(t *testing.T) {
		src := strings.Repeat("!", 2000) + "true"
		_, err := Compile(src)
		assertLimitError(t, err, LimitNodes)
	})
	t.Run("refuses a long chain of conditions over max_matcher_nodes", func(t *testing.T) {
		src := strings.Repeat("1==1&&", 600) + "true"
		_, err := Compile(src)
		assertLimitError(t, err, LimitNodes)
	})
	t.Run("takes custom limits", func(t *testing.T) {
		_, err := CompileWithLimits(`identity('^web')`, Limits{MaxLength: 5})
		assertLimitError(t, err, LimitLength)
		_, err = CompileWithLimits(`true && true`, Limits{MaxNodes: 2})
		assertLimitError(t, err, LimitNodes)
	})
	t.Run("accepts deep parentheses within the length limit", func(t *testing.T) {
		src := strings.Repeat("(", 2000) + "true" + strings.Repeat(")", 2000)
		runMatchCases(t, node, []matchCase{{"parens", src, true}})
	})

	t.Run("stops a huge range with expr's memory budget", func(t *testing.T) {
		_, err := mustCompile(t, `all(1..1000000000, # > 0)`).Match(node)
		assertMatcherError(t, err, "memory budget exceeded")
	})
	t.Run("evaluates membership of a huge range without building it", func(t *testing.T) {
		runMatchCases(t, node, []matchCase{{"in range", `999999999 in 1..1000000000`, true}})
	})
	t.Run("stops nested loops at max_matcher_steps", func(t *testing.T) {
		// == rather than > 0: expr's optimizer turns count(...) > 0 into any(...), which stops early.
		src := `count(1..1000, count(1..1000, count(1..1000, true) == 1000) == 1000) == 1000`
		_, err := mustCompile(t, src).Match(node)
		assertLimitError(t, err, LimitSteps)
	})
	t.Run("counts function calls as steps", func(t *testing.T) {
		m, err := CompileWithLimits(`!has_file('/a') && !has_file('/b') && !has_file('/c')`, Limits{MaxSteps: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Match(node)
		assertLimitError(t, err, LimitSteps)
	})
	t.Run("stops strings doubled by variables at max_matcher_bytes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("let s0 = 'xxxxxxxxxxxxxxxx'; ")
		for i := 1; i <= 40; i++ {
			fmt.Fprintf(&b, "let s%d = s%d + s%d; ", i, i-1, i-1)
		}
		b.WriteString("len(s40) > 0")
		_, err := mustCompile(t, b.String()).Match(node)
		assertLimitError(t, err, LimitBytes)
	})
	t.Run("stops strings doubled by nested predicates at max_matcher_bytes", func(t *testing.T) {
		src := "'x'"
		for range 40 {
			src = "map([" + src + "], # + #)[0]"
		}
		_, err := mustCompile(t, "len("+src+") > 0").Match(node)
		assertLimitError(t, err, LimitBytes)
	})
	t.Run("stops many copies of facts at max_matcher_bytes", func(t *testing.T) {
		m, err := CompileWithLimits(`len(map(1..10000, get_fact('@this'))) > 0`, Limits{MaxBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Match(node)
		assertLimitError(t, err, LimitBytes)
	})
	t.Run("still adds numbers and facts with +", func(t *testing.T) {
		runMatchCases(t, node, []matchCase{
			{"ints", `1 + 2 == 3`, true},
			{"fact and int", `get_fact('cpu.count') + 1 == 9`, true},
			{"fact and string", `get_fact('os.family') + '-12' == 'debian-12'`, true},
		})
		_, err := mustCompile(t, `get_fact('os.family') + 1 == 2`).Match(node)
		assertMatcherError(t, err, "invalid operation")
	})
	t.Run("stops an evaluation over max_matcher_time and lets go of it", func(t *testing.T) {
		before := runtime.NumGoroutine()
		m, err := CompileWithLimits(`count(1..100000, count(1..1000, true) == 1000) == 100000`,
			Limits{MaxTime: time.Millisecond, MaxSteps: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Match(node)
		assertLimitError(t, err, LimitTime)
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				t.Fatalf("the overrun evaluation is still running: %d goroutines, %d before", runtime.NumGoroutine(), before)
			}
			runtime.Gosched()
		}
	})
}

func TestConcurrentMatches(t *testing.T) {
	base := testNode(t)
	m := mustCompile(t, `identity('^' + get_fact('tags')[0] + '[0-9]+') && has_command('tool') && get_fact('cpu.count') > 4`)
	const workers, rounds = 16, 50
	var wg sync.WaitGroup
	failures := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				node := base
				node.Identity = fmt.Sprintf("web%d", w*rounds+r)
				if w%2 == 1 {
					node.Identity = "db" + node.Identity
				}
				got, err := m.Match(node)
				if err != nil {
					failures <- err
					continue
				}
				if want := w%2 == 0; got != want {
					failures <- fmt.Errorf("node %s: got %v, want %v", node.Identity, got, want)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
}
