package match

import (
	"fmt"
	"sync/atomic"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
)

// evalName is the env variable through which every function reaches the evaluation state. It
// holds a space, so no expression can name it.
const evalName = "mms eval"

// eval is the state of one evaluation of one Matcher for one Node. It lives in one goroutine,
// except stop, which the caller sets when the evaluation overruns its time. It has no exported
// fields or methods: expressions can reach it through $env but can do nothing with it.
type eval struct {
	m     *Matcher
	node  *Node
	stop  atomic.Bool
	steps int
	bytes int
	// factsChecked records that node.Facts was found valid JSON by this evaluation.
	factsChecked bool
}

// step counts one loop iteration or function call and stops the evaluation when it is over
// its step limit or its time. Panics are how expr functions abort a run; the VM turns them
// into errors.
func (e *eval) step() {
	e.steps++
	if e.steps > e.m.limits.MaxSteps {
		panic(limitError(LimitSteps, int64(e.m.limits.MaxSteps), "steps", "evaluation"))
	}
	if e.stop.Load() {
		panic(fmt.Errorf("stopped: %s exceeded", LimitTime))
	}
}

// spend counts n bytes built or taken out of the facts.
func (e *eval) spend(n int) {
	e.bytes += n
	if e.bytes > e.m.limits.MaxBytes {
		panic(limitError(LimitBytes, int64(e.m.limits.MaxBytes), "bytes", "evaluation"))
	}
}

// fact returns the value at a gjson path in the node's facts, nil when missing.
func (e *eval) fact(path string) (any, error) {
	facts := e.node.Facts
	if len(facts) == 0 {
		return nil, nil
	}
	if !e.factsChecked {
		if !validFacts(facts) {
			return nil, fmt.Errorf("get_fact(%q): node facts are not valid JSON of at most %d levels", path, jsondepth.Max)
		}
		e.factsChecked = true
	}
	r := gjson.GetBytes(facts, path)
	if !r.Exists() {
		return nil, nil
	}
	e.spend(len(r.Raw))
	return r.Value(), nil
}
