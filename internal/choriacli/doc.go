// Package choriacli is the command line of a Choria node binary assembled from go-choria's
// server, broker and config packages: `choria server run`, `choria broker run` and
// `choria buildinfo`, doing what go-choria v0.30.2's own commands of those names do.
//
// go-choria's own command package (cmd) cannot be built from the served modules: it needs
// github.com/choria-io/appbuilder v0.17.1, which the module proxy does not serve. This package
// is the thin replacement for the three commands a node runs; operators keep their own
// `choria` CLI, of any release, for everything else (kv, req, machine watch, ...).
//
// cmd/choria runs it with go-choria's standard plugins plus mms's; test peers run it with the
// standard plugins alone (a stock v0.30.2 node).
package choriacli
