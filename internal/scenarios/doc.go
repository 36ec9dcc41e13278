// Package scenarios is the one table of behaviours every host of the node loop must show
// (the Choria watcher, mms agent): install, update, a refused specification with repair of
// what the last accepted one installed, a deleted key, pre-emption by a newer specification,
// purge, and repair of a tampered file. Each host's tests run the table against the real host
// (a Choria machine, the mms binary) with a real embedded NATS server and archives served over
// loopback HTTP. Only tests import it.
package scenarios
