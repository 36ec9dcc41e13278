// Package nodeagent keeps one machines directory reconciled with one NATS Key-Value key: the
// node loop that mms agent, mms demo and the fleet simulator (bench/fleet) all run.
//
// The loop watches the key with kvspec (the watch is a hint, the key the truth), and runs
// machines.Reconcile on every new revision and on every interval tick. Reconciles never
// overlap and coalesce: while one runs, only the newest revision waits. A deleted or missing
// key never purges anything. When the newest specification is refused, the interval keeps
// verifying and repairing what the last accepted one installed. A failing source is not
// retried by every reconcile: the loop remembers failures across reconciles
// (machines.RetryMemory) and backs off.
package nodeagent
