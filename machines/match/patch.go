package match

import (
	"reflect"
	"slices"

	"github.com/expr-lang/expr/ast"
)

// inspector counts the nodes of an AST and finds the builtins it uses that are not allowed
// (predicates such as reduce are parsed whether or not they are disabled).
type inspector struct {
	n       int
	refused []string
}

// Visit counts one node and checks a builtin.
func (i *inspector) Visit(node *ast.Node) {
	i.n++
	if b, ok := (*node).(*ast.BuiltinNode); ok && !slices.Contains(allowedBuiltins, b.Name) {
		i.refused = append(i.refused, b.Name)
	}
}

// patterns collects the constant patterns given to identity, to compile them once at Compile.
type patterns struct{ list []string }

// Visit records identity('constant').
func (p *patterns) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 1 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != fnIdentity {
		return
	}
	if s, ok := call.Arguments[0].(*ast.StringNode); ok {
		p.list = append(p.list, s.Value)
	}
}

// guard rewrites a checked AST so that evaluation can be bounded:
//
//   - identity(x) and the other user functions get the evaluation state as first argument;
//   - a + b, where either side may be a string, becomes a call that counts the bytes built;
//   - the body of every closure is wrapped in a call that counts the iteration;
//   - every call of a builtin that builds a string (upper, lower) is wrapped in a call that
//     counts the bytes it built.
//
// The rewritten nodes keep the type the checker had found, so that typing is unchanged.
type guard struct{}

// Visit rewrites one node; ast.Walk visits children first, so nested nodes are done already.
func (guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || !userFunctions[id.Value] {
			return
		}
		n.Arguments = append([]ast.Node{&ast.IdentifierNode{Value: evalName}}, n.Arguments...)

	case *ast.BinaryNode:
		if n.Operator != "+" || !(mayBeString(n.Left.Type()) || mayBeString(n.Right.Type())) {
			return
		}
		call := &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fnAdd},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: evalName}, n.Left, n.Right},
		}
		if t := n.Type(); t != nil {
			call.SetType(t)
		}
		ast.Patch(node, call)

	case *ast.BuiltinNode:
		if !stringBuilders[n.Name] {
			return
		}
		call := &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fnSpend},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: evalName}, n},
		}
		if t := n.Type(); t != nil {
			call.SetType(t)
		}
		ast.Patch(node, call)

	case *ast.PredicateNode:
		body := n.Node
		call := &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: fnStep},
			Arguments: []ast.Node{&ast.IdentifierNode{Value: evalName}, body},
		}
		if t := body.Type(); t != nil {
			call.SetType(t)
		}
		n.Node = call
	}
}

// mayBeString says whether a value of type t may be a string at run time.
func mayBeString(t reflect.Type) bool {
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}
