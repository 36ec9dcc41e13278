//go:build mms_node

package main

import (
	"context"

	"github.com/nats-io/nats.go"
)

// connectChoria, in a node build (-tags mms_node), refuses: go-choria's framework is not
// linked into it.
func (k *kvFlags) connectChoria(context.Context) (*nats.Conn, error) {
	return nil, usageError("--choria-config: this is a node build of mms (-tags mms_node), without go-choria's connector: give --server and its credentials, or use a full build")
}
