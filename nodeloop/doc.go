// Package nodeloop is the one node loop every host runs: the Choria watcher (watchers), mms
// agent, mms demo and the fleet simulator (bench/fleet) keep a machines directory reconciled
// with a specification through it, so that each behaviour below is written and tested once.
//
// A Loop takes its specification from a Source (a NATS KV key with kvspec, where the watch is
// a hint and the key the truth; a Choria data item; anything else that delivers envelopes) and
// tells Observers (Choria notifications and metrics, the last report for mms status, the
// simulator's probe) what each reconcile did. It:
//
//   - holds the machines directory for its whole life (install.Store's lock), so that a
//     second mms process on the directory is refused with who holds it, and cleans the staging
//     a crash left behind when it starts, before any specification arrives;
//   - reconciles the first specification, every new one, every interval tick (re-verifying and
//     repairing what is installed), and whenever its host wakes it; never two at once, and
//     triggers that arrive while one runs coalesce into one more;
//   - lets a newer specification pre-empt the reconcile in progress: its downloads are
//     cancelled at once, so a hanging archive server cannot hold back an urgent fix;
//   - never purges on a missing, deleted or unreadable specification; and when the newest
//     specification is refused or gone, keeps verifying and repairing what the last accepted
//     one installed;
//   - remembers failed downloads across reconciles (machines.RetryMemory) and re-hashes every
//     file at its full-verify interval.
//
// The loop knows neither Choria nor the CLI: hosts adapt it with Prepare (refresh the node's
// facts), Active (Choria's state_match and foreign_state_required) and Wake (state changes).
package nodeloop
