package match

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/mms-io/mms/machines/errs"
)

// Matcher is one compiled match expression. It is safe for concurrent use by many goroutines.
type Matcher struct {
	source  string
	limits  Limits
	program *vm.Program // nil when the expression is empty: every node matches

	patterns sync.Map // pattern string -> *regexp.Regexp
	cached   atomic.Int64
}

// Compile compiles a match expression with the default limits. An empty (or blank) expression
// matches every node.
func Compile(expression string) (*Matcher, error) {
	return CompileWithLimits(expression, Limits{})
}

// CompileWithLimits compiles a match expression with the given limits; zero fields take the
// defaults. The error, which wraps errs.ErrMatcher, says where a syntax error is, which
// function is unknown, which type was found instead of bool, or which limit was exceeded.
func CompileWithLimits(expression string, limits Limits) (m *Matcher, err error) {
	m = &Matcher{source: expression, limits: limits.withDefaults()}
	if strings.TrimSpace(expression) == "" {
		return m, nil
	}
	if n := utf8.RuneCountInString(expression); n > m.limits.MaxLength {
		return nil, m.fail(limitError(LimitLength, int64(m.limits.MaxLength), "characters",
			fmt.Sprintf("expression of %d characters", n)))
	}

	// expr has had parser and checker panics on odd input; one must not take the node down.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, m.fail(fmt.Errorf("compiler panic: %v", r))
		}
	}()

	// Parse once, with the guarded configuration; the limits look at the tree as written.
	user, guarded := configs()
	tree, err := parser.ParseWithConfig(expression, guarded)
	if err != nil {
		return nil, m.fail(err)
	}
	found := &inspector{}
	ast.Walk(&tree.Node, found)
	if found.n > m.limits.MaxNodes {
		return nil, m.fail(limitError(LimitNodes, int64(m.limits.MaxNodes), "nodes",
			fmt.Sprintf("expression of %d nodes", found.n)))
	}
	if len(found.refused) > 0 {
		return nil, m.fail(fmt.Errorf("builtin %s is not allowed in a matcher (allowed: %s)",
			found.refused[0], strings.Join(allowedBuiltins, ", ")))
	}
	constants := &patterns{}
	ast.Walk(&tree.Node, constants)
	for _, p := range constants.list {
		if _, err := m.regexp(p); err != nil {
			return nil, m.fail(err)
		}
	}

	// Then the guarded program that actually runs. Only when it does not type-check is the
	// expression checked against the signatures users see, so that the error points at their
	// own text.
	if m.program, err = compileTree(tree, guarded); err != nil {
		if uerr := typeCheck(expression, user); uerr != nil {
			return nil, m.fail(uerr)
		}
		return nil, m.fail(fmt.Errorf("guarded compile: %w", err))
	}
	return m, nil
}

// compileOptions are the options shared by both compiles.
func compileOptions(functions []expr.Option, more ...expr.Option) []expr.Option {
	opts := []expr.Option{
		expr.Env(map[string]any{evalName: (*eval)(nil)}),
		expr.AsBool(),
		expr.DisableAllBuiltins(),
	}
	for _, name := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	opts = append(opts, functions...)
	return append(opts, more...)
}

// String returns the expression the Matcher was compiled from.
func (m *Matcher) String() string { return m.source }

// MatchesAll says whether the expression is empty, so that every node matches.
func (m *Matcher) MatchesAll() bool { return m.program == nil }

// result is what one evaluation goroutine hands back.
type result struct {
	out any
	err error
}

// Match evaluates the expression for one node. An error (a bad regular expression given to
// identity at run time, a type error, a limit, a file that cannot be inspected) wraps
// errs.ErrMatcher and means "unknown" for this entry on this node: neither true nor false.
//
// The evaluation runs in its own goroutine so that the caller waits at most max_matcher_time,
// even if a function is stuck in the file system. An evaluation that overruns is told to stop,
// and does so at its next loop iteration or function call.
func (m *Matcher) Match(node Node) (bool, error) {
	if m.program == nil {
		return true, nil
	}
	return m.run(node)
}

// run evaluates the compiled program for node in its own goroutine, waiting at most
// max_matcher_time.
func (m *Matcher) run(node Node) (bool, error) {
	e := &eval{m: m, node: &node}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("panic: %v", p)}
			}
			done <- r
		}()
		r.out, r.err = expr.Run(m.program, map[string]any{evalName: e})
	}()

	timer := time.NewTimer(m.limits.MaxTime)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		e.stop.Store(true)
		return false, m.failOn(node, limitError(LimitTime, m.limits.MaxTime.Milliseconds(),
			"milliseconds", "evaluation"))
	}
	if r.err != nil {
		return false, m.failOn(node, r.err)
	}
	b, ok := r.out.(bool)
	if !ok {
		return false, m.failOn(node, fmt.Errorf("expected bool, but got %T (%v)", r.out, r.out))
	}
	return b, nil
}

// fail wraps a compile error with errs.ErrMatcher and the expression.
func (m *Matcher) fail(err error) error {
	return fmt.Errorf("%w: matcher %q: %w", errs.ErrMatcher, shorten(m.source), err)
}

// failOn wraps an evaluation error with errs.ErrMatcher, the expression and the node.
func (m *Matcher) failOn(node Node, err error) error {
	return fmt.Errorf("%w: matcher %q on node %q: %w", errs.ErrMatcher, shorten(m.source), node.Identity, err)
}

// shorten keeps error messages readable when an expression is long.
func shorten(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
