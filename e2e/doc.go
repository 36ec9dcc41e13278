// Package e2e proves mms the way an operator runs it: a real choria broker and real choria
// servers built from this tree, certificates for Choria's file security provider, machine
// archives served over loopback HTTP, and specifications published with mms pack and
// choria kv put.
//
// The package holds only tests. They build cmd/choria and cmd/mms once, take a few minutes
// on two cores, and are skipped with -short:
//
//	go test -v -timeout 15m ./e2e/
package e2e
