// Package match decides whether a specification entry applies to a node, by evaluating the
// entry's `match` expression (github.com/expr-lang/expr syntax) against that node.
//
// An empty expression matches every node. Expressions may call exactly these functions:
//
//	identity(re)           the node identity matches the regular expression re
//	has_file(path)         a regular file exists at path (symlinks followed)
//	has_directory(path)    a directory exists at path (symlinks followed)
//	has_command(name)      an executable regular file called name is on the node's PATH
//	get_fact(gjson_path)   the value at that gjson path in the node's facts, nil when missing
//
// For example `identity('^web') && has_command('facter')` or
// `get_fact('cpu.count') > 4 && 'prod' in get_fact('tags')`. Strings take single or double quotes.
//
// A Matcher is compiled once per entry and is then safe to evaluate for many nodes at once.
// Compile type-checks the expression against the function signatures and refuses one that is
// not boolean, calls an unknown function, or has a constant regular expression that does not
// compile. Because a specification may come from anywhere a node trusts (and, in the Choria
// watcher without a key, from anyone who can write the KV key), every expression is bounded:
//
//   - its length (max_matcher_length) and AST size (max_matcher_nodes) at compile time;
//   - the builtins it may use: only those that cannot amplify data (no repeat, replace, join,
//     toJSON, string, concat, sort ...);
//   - per evaluation, the loop iterations and function calls it may make (max_matcher_steps),
//     the bytes it may build by string concatenation or take out of the facts
//     (max_matcher_bytes), and its running time (max_matcher_time);
//   - expr's own memory budget (one million elements of ranges and arrays per evaluation),
//     which stops `1..1000000000` before it is built.
//
// Every failure wraps errs.ErrMatcher; a failure caused by a limit also matches errs.ErrLimit
// through an *errs.LimitError naming the limit. A failure concerns one entry only: the caller
// neither installs nor removes that entry on this node and goes on with the others.
//
// Differences from go-choria v0.29.4: has_file is true only for regular files (v0.29.4 said true
// for anything that exists, directories included); has_command never finds a command through
// an empty or relative PATH element, nor through a relative name such as ./tool; a stat error other than "does not exist" is an evaluation
// error rather than a silent answer; get_fact is new.
package match
