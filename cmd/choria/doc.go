// Command choria is the node binary of a Choria fleet with mms compiled in: go-choria
// v0.30.2's server and broker (`choria server run --config FILE`, `choria broker run --config
// FILE`, `choria buildinfo`) with every standard plugin of go-choria's packager/plugins.yaml
// registered, plus the mms `machines` watcher and the `machines_manager` autonomous agent.
//
// It is for nodes and brokers only. Operators use their own `choria` CLI (any release) for
// kv, req and machine commands, or `mms`; Choria operators who build their own `choria` add
// mms through user_plugins.yaml instead.
//
// go-choria's own machines watcher (aagent/watchers/machineswatcher) is never registered: ours
// takes its type name `machines`. go-choria's archive and plugins watchers are registered as
// the stock build does, so that operators' existing machines keep working.
//
// Build it with a trusted specification key compiled in:
//
//	go build -ldflags "-X github.com/mms-io/mms/watchers.PublicKey=<64 hex characters>" ./cmd/choria
//
// `choria buildinfo` lists the registered plugins and the go-choria release.
package main
