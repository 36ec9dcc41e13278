package main

import "github.com/mms-io/mms/nodeloop"

// lastReport is the outcome of the agent's last reconcile as mms status shows it; the agent's
// loop (package nodeloop) writes it.
type lastReport = nodeloop.LastReport

// readLastReport reads dir's last report; ok is false when there is none.
func readLastReport(dir string) (lr lastReport, ok bool, err error) {
	return nodeloop.ReadLastReport(dir)
}
