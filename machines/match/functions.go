package match

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm/runtime"
)

// Names of the functions an expression may call, and of the internal ones the compiler inserts
// (with a space, so that no expression can call them by name).
const (
	fnIdentity     = "identity"
	fnHasFile      = "has_file"
	fnHasDirectory = "has_directory"
	fnHasCommand   = "has_command"
	fnGetFact      = "get_fact"
	fnAdd          = "mms add"
	fnStep         = "mms step"
	fnSpend        = "mms spend"
)

// userFunctions are the functions an expression may call; each gets the evaluation state as a
// hidden first argument.
var userFunctions = map[string]bool{
	fnIdentity: true, fnHasFile: true, fnHasDirectory: true, fnHasCommand: true, fnGetFact: true,
}

// allowedBuiltins are expr builtins that cannot amplify the data they are given: each returns
// at most what it was given, or a number or bool. Every other builtin is disabled.
var allowedBuiltins = []string{
	"all", "none", "any", "one", "filter", "map", "find", "findIndex", "findLast",
	"findLastIndex", "count", "len", "type", "abs", "ceil", "floor", "round", "int", "float",
	"trim", "trimPrefix", "trimSuffix", "upper", "lower", "indexOf", "lastIndexOf", "hasPrefix",
	"hasSuffix", "max", "min", "first", "last", "get", "keys", "values",
}

// signatures are the types the user sees, used for the first, clean type check.
func signatureOptions() []expr.Option {
	nop := func(...any) (any, error) { return nil, nil }
	return []expr.Option{
		expr.Function(fnIdentity, nop, new(func(string) bool)),
		expr.Function(fnHasFile, nop, new(func(string) bool)),
		expr.Function(fnHasDirectory, nop, new(func(string) bool)),
		expr.Function(fnHasCommand, nop, new(func(string) bool)),
		expr.Function(fnGetFact, nop, new(func(string) any)),
	}
}

// runtimeOptions are the real functions, each taking the *eval first.
func runtimeOptions() []expr.Option {
	return []expr.Option{
		expr.Function(fnIdentity, callIdentity, new(func(*eval, string) bool)),
		expr.Function(fnHasFile, callHasFile, new(func(*eval, string) bool)),
		expr.Function(fnHasDirectory, callHasDirectory, new(func(*eval, string) bool)),
		expr.Function(fnHasCommand, callHasCommand, new(func(*eval, string) bool)),
		expr.Function(fnGetFact, callGetFact, new(func(*eval, string) any)),
		expr.Function(fnAdd, callAdd, new(func(*eval, any, any) any)),
		expr.Function(fnStep, callStep, new(func(*eval, any) any)),
		expr.Function(fnSpend, callSpend, new(func(*eval, any) any)),
	}
}

// start counts a call and returns the evaluation state and the string argument.
func start(params []any) (*eval, string) {
	e := params[0].(*eval)
	e.step()
	return e, params[1].(string)
}

func callIdentity(params ...any) (any, error) {
	e, pattern := start(params)
	re, err := e.m.regexp(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchString(e.node.Identity), nil
}

func callHasFile(params ...any) (any, error) {
	_, path := start(params)
	info, err := stat(fnHasFile, path)
	if err != nil || info == nil {
		return false, err
	}
	return info.Mode().IsRegular(), nil
}

func callHasDirectory(params ...any) (any, error) {
	_, path := start(params)
	info, err := stat(fnHasDirectory, path)
	if err != nil || info == nil {
		return false, err
	}
	return info.IsDir(), nil
}

func callHasCommand(params ...any) (any, error) {
	e, name := start(params)
	return hasCommand(name, e.node.Path), nil
}

func callGetFact(params ...any) (any, error) {
	e, path := start(params)
	return e.fact(path)
}

// callAdd replaces the + operator wherever a string may be involved, so that strings built
// by an evaluation count against max_matcher_bytes; other operands go to expr's own Add.
func callAdd(params ...any) (any, error) {
	e := params[0].(*eval)
	a, b := params[1], params[2]
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		e.spend(len(as) + len(bs))
		return as + bs, nil
	}
	return runtime.Add(a, b), nil
}

// stringBuilders are the allowed builtins that build a new string as long as their argument
// (the others that return a string, trim and its kin, return a part of it): each result is
// counted against max_matcher_bytes, so that a loop of them is bounded.
var stringBuilders = map[string]bool{"upper": true, "lower": true}

// callSpend wraps every call of a string-building builtin, counting the string it built.
func callSpend(params ...any) (any, error) {
	if s, ok := params[1].(string); ok {
		params[0].(*eval).spend(len(s))
	}
	return params[1], nil
}

// callStep wraps the body of every closure (the predicate of all, map, filter ...), so that
// each iteration counts against max_matcher_steps and notices when time is up.
func callStep(params ...any) (any, error) {
	params[0].(*eval).step()
	return params[1], nil
}

// stat returns the file information at path, nil when nothing is there, or an error when the
// answer is unknown (permission denied, I/O error).
func stat(fn, path string) (fs.FileInfo, error) {
	if path == "" {
		return nil, nil
	}
	info, err := os.Stat(path)
	switch {
	case err == nil:
		return info, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, nil
	default:
		return nil, fmt.Errorf("%s(%q): %w", fn, path, err)
	}
}

// hasCommand says whether name is an executable regular file on path (or $PATH when empty).
// An absolute name is checked as given; any other name holding a slash is not found. Empty
// and relative PATH elements are skipped: a command is never found through the current
// directory, which is whatever the host process happens to run in.
func hasCommand(name, path string) bool {
	if name == "" {
		return false
	}
	if strings.ContainsRune(name, '/') {
		return filepath.IsAbs(name) && isExecutable(name)
	}
	if path == "" {
		path = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if isExecutable(filepath.Join(dir, name)) {
			return true
		}
	}
	return false
}

// isExecutable says whether file is a regular file with an execute bit set.
func isExecutable(file string) bool {
	info, err := os.Stat(file)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// regexp returns the compiled pattern, from the Matcher's cache when it is there.
func (m *Matcher) regexp(pattern string) (*regexp.Regexp, error) {
	if re, ok := m.patterns.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("identity(%q): %w", pattern, err)
	}
	if m.cached.Add(1) <= maxCachedPatterns {
		m.patterns.Store(pattern, re)
	}
	return re, nil
}
