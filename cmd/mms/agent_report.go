package main

import "github.com/mms-io/mms/nodeagent"

// lastReport is the outcome of the agent's last reconcile as mms status shows it; the agent's
// loop (package nodeagent) writes it.
type lastReport = nodeagent.LastReport

// readLastReport reads dir's last report; ok is false when there is none.
func readLastReport(dir string) (lr lastReport, ok bool, err error) {
	return nodeagent.ReadLastReport(dir)
}
