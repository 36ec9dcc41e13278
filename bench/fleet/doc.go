// Command fleet simulates a fleet of mms nodes in one process to measure how a change spreads:
// N nodes, each with its own identity, facts, machines directory, NATS connection and KV
// watch, each running the agent's own loop (package nodeloop), against one embedded NATS
// server or a 3-server cluster with the bucket replicated three times, downloading from one
// loopback HTTP server that counts requests.
//
// Run it from the module root: go run ./bench/fleet -nodes 1000 (see README.md).
package main
