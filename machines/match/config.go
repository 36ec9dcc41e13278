package match

import (
	"errors"
	"reflect"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// expr.Compile builds a fresh configuration (every builtin, then disabling them) on each call,
// which was most of the cost of compiling a matcher. The two configurations a matcher needs
// are built once instead: expr's parser, checker, optimizer and compiler only read them, and
// the guard patch holds no state, so they are safe to share between goroutines.
var (
	configsOnce sync.Once
	userConfig  *conf.Config // the signatures users see: errors point at their own text
	guardConfig *conf.Config // the guarded functions that actually run
)

func configs() (user, guarded *conf.Config) {
	configsOnce.Do(func() {
		userConfig = newConfig(compileOptions(signatureOptions()))
		guardConfig = newConfig(compileOptions(runtimeOptions(), expr.Patch(guard{})))
	})
	return userConfig, guardConfig
}

// newConfig applies options as expr.Compile does.
func newConfig(opts []expr.Option) *conf.Config {
	c := conf.CreateNew()
	for _, op := range opts {
		op(c)
	}
	for name := range c.Disabled {
		delete(c.Builtins, name)
	}
	c.Check()
	return c
}

// typeCheck parses and checks input against c without compiling it.
func typeCheck(input string, c *conf.Config) error {
	_, err := checker.ParseCheck(input, c)
	return err
}

// compileTree finishes what checker.ParseCheck and expr.Compile do after parsing: the patch
// visitors, the type check, the optimizer and the compiler, on a tree already parsed with c.
func compileTree(tree *parser.Tree, c *conf.Config) (*vm.Program, error) {
	for _, v := range c.Visitors {
		// Visitors may rely on the types the checker records in the tree.
		_, _ = checker.Check(tree, c)
		ast.Walk(&tree.Node, v)
	}
	if _, err := checker.Check(tree, c); err != nil {
		return nil, err
	}
	if c.Optimize {
		if err := optimizer.Optimize(&tree.Node, c); err != nil {
			var fileError *file.Error
			if errors.As(err, &fileError) {
				return nil, fileError.Bind(tree.Source)
			}
			return nil, err
		}
	}
	// With AsBool, expr (since v1.17) ends the program with a cast that turns nil into false.
	// A matcher whose value is a missing fact must fail on that node (neither installed nor
	// removed), not read as false, which would purge: compile without the cast, and let Match
	// check the result's type. The checker above still refused what cannot be a bool.
	run := *c
	run.Expect = reflect.Invalid
	return compiler.Compile(tree, &run)
}
