// Package embednats runs a NATS server with JetStream inside the current process, for
// `mms agent` when no server is given, for `mms demo`, for tests and for the fleet simulator.
//
// It binds to loopback only: an embedded server is a convenience for one host, never a broker
// for a network, so Start refuses any host that is not a loopback address. A standalone server
// comes from Start; a small cluster of servers with a JetStream meta leader comes from
// StartCluster, to exercise replicated (R3) buckets.
//
//	srv, err := embednats.Start(embednats.Options{StoreDir: dir})
//	if err != nil { ... }
//	defer srv.Shutdown()
//	nc, err := nats.Connect(srv.ClientURL())
package embednats
