//go:build mms_node

package main

import "fmt"

// nodeBuild says this is a node build of mms (-tags mms_node).
const nodeBuild = true

// checkMachine, in a node build (-tags mms_node), refuses: the check links go-choria's machine
// loader and every watcher, which a node that never archives should not carry.
func checkMachine(dir, name, nameFrom string) error {
	return fmt.Errorf("%w: this is a node build of mms (-tags mms_node), without go-choria's machine loader: archive with a full build", errInvalidMachine)
}
