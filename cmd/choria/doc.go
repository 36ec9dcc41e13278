// Command choria is a choria binary for Choria operators who want mms without changing their
// packaging: go-choria v0.29.4's command line with every standard plugin of its
// packager/plugins.yaml registered, plus the mms `machines` watcher and the
// `machines_manager` autonomous agent.
//
// go-choria's own machines watcher (aagent/watchers/machineswatcher) is never registered: ours
// takes its type name `machines`. go-choria's archive and plugins watchers are registered as
// the stock build does, so that operators' existing machines keep working.
//
// Build it with a trusted specification key compiled in:
//
//	go build -ldflags "-X github.com/mms-io/mms/watchers.PublicKey=<64 hex characters>" ./cmd/choria
//
// `choria buildinfo` lists the registered plugins.
package main
