package e2e

import (
	"strings"
	"time"
)

// fleetDoc is what the e2e reads of mms status --fleet --json (mms.fleet-status.v1): the
// fields it checks, decoded on their own so that the suite tests the documented schema.
type fleetDoc struct {
	Schema    string      `json:"schema"`
	Nodes     []fleetNode `json:"nodes"`
	Converged bool        `json:"converged"`
}

// fleetNode is one node of a fleetDoc.
type fleetNode struct {
	Identity string `json:"identity"`
	Host     string `json:"host"`
	State    string `json:"state"`
	Spec     *struct {
		Version  int64  `json:"version"`
		Revision uint64 `json:"revision"`
	} `json:"spec"`
	Refused *struct {
		Reason string `json:"reason"`
	} `json:"refused"`
	Machines []fleetMachine `json:"machines"`
	Repairs  []struct {
		Machine string    `json:"machine"`
		At      time.Time `json:"at"`
	} `json:"repairs"`
}

// node finds identity's node.
func (d fleetDoc) node(identity string) (fleetNode, bool) {
	for _, n := range d.Nodes {
		if n.Identity == identity {
			return n, true
		}
	}
	return fleetNode{}, false
}

// fleetMachine is one machine of a fleetNode.
type fleetMachine struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Error    string `json:"error"`
	Verified bool   `json:"verified"`
	State    string `json:"state"`
	Rollout  *struct {
		Wave   int    `json:"wave"`
		Phase  string `json:"phase"`
		Reason string `json:"reason"`
	} `json:"rollout"`
}

// machine finds the machine called name on n.
func (n fleetNode) machine(name string) (fleetMachine, bool) {
	for _, m := range n.Machines {
		if m.Name == name {
			return m, true
		}
	}
	return fleetMachine{}, false
}

// reasons joins every reason n gives: its refusal and its machines' errors.
func (n fleetNode) reasons() string {
	var out []string
	if n.Refused != nil {
		out = append(out, n.Refused.Reason)
	}
	for _, m := range n.Machines {
		if m.Error != "" {
			out = append(out, m.Error)
		}
	}
	return strings.Join(out, "; ")
}
