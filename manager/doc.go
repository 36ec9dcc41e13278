// Package manager is the autonomous agent `machines_manager` that mms compiles into choria:
// in state MANAGE its `machines` watcher keeps the Choria machines directory in line with the
// signed specification in NATS KV bucket MACHINES, key machines, removing the machines it
// installed that the specification no longer lists; in state MAINTENANCE nothing changes.
//
// An operator pauses a node with `choria req choria_util machine_transition
// name=machines_manager transition=enter_maintenance -I NODE` and resumes it with
// `transition=resume` (neither go-choria v0.29.4 nor v0.30.2 has a `choria machine transition`
// command; the choria_util agent's machine_transition action is how both fire a transition).
//
// The key that signs the specification is best compiled in:
//
//	go build -ldflags "-X github.com/mms-io/mms/watchers.PublicKey=<64 hex characters>" ./cmd/choria
//
// or set in Choria's configuration as plugin.choria.machine.signing_key, which takes
// precedence. Without either, the watcher accepts unsigned specifications and says so in every
// notification.
package manager
