package machines

import (
	"errors"
	"fmt"
	"github.com/mms-io/mms/internal/memo"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// Step is one decision of a Plan.
type Step struct {
	// Name is the entry or managed machine name.
	Name string
	// Action is what to do.
	Action Action
	// Reason says why, for the operator.
	Reason string
	// Err is the refusal, for ActionRefuse.
	Err error
	// Entry is the specification entry; zero for ActionRemove of a machine not in the
	// specification. For ActionRetire and ActionLeave it is the entry of the machine the
	// go-choria manager installs; for ActionReplace, the version go-choria installed.
	Entry spec.Entry
	// Files is the fresh verification cache for ActionKeep, ActionAdopt and ActionReplace.
	Files sums.Cache
}

// Plan is what a reconcile will do, decided before anything on disk changes: a value to print
// (mms apply --dry-run) or to carry out (Apply).
type Plan struct {
	// Spec is the specification planned for.
	Spec *spec.Spec
	// Steps holds one step per entry and per machine to remove, in name order.
	Steps []Step
}

// MakePlan decides, for every entry of s and every machine st manages, what to do on this node.
// It reads the machines directory and re-verifies installed machines (cheaply, from st's
// stamps, unless full), but changes nothing.
func MakePlan(s *spec.Spec, st *install.Store, cfg Config) *Plan {
	node, purge, full := cfg.Node, cfg.Purge, cfg.FullVerify
	p := &Plan{Spec: s}
	matchers := matcherCache{limits: cfg.Matcher}
	inSpec := make(map[string]bool, len(s.Entries))
	steps := make([]Step, len(s.Entries))
	parallel(len(s.Entries), func(i int) {
		steps[i] = planEntry(s.Entries[i], node, st, full, matchers)
	})
	for i, e := range s.Entries {
		inSpec[e.Name] = true
		step := steps[i]
		// A machine whose matcher is false here is removed like one the spec omits; one whose
		// matcher failed is refused, and so kept.
		if _, managed := st.Managed(e.Name); step.Action == ActionSkip && managed && purge {
			step = Step{Name: e.Name, Action: ActionRemove, Reason: "matcher is false on this node", Entry: e}
		}
		p.Steps = append(p.Steps, step)
	}
	if purge {
		for _, name := range st.ManagedNames() {
			if !inSpec[name] {
				p.Steps = append(p.Steps, Step{Name: name, Action: ActionRemove, Reason: "not in the specification"})
			}
		}
	}
	// go-choria's own managers of the entries' machines: retire, defer, replace or leave.
	planGoChoriaManagers(p, st.Dir(), full)
	sort.SliceStable(p.Steps, func(i, j int) bool { return p.Steps[i].Name < p.Steps[j].Name })
	return p
}

// matcherCache compiles each distinct expression once per process (and per set of limits): a
// node reconciles the same specification on every interval, and compiling is far dearer than
// evaluating.
type matcherCache struct {
	limits match.Limits
}

// maxCachedMatchers bounds the cache; past it the cache starts over.
const maxCachedMatchers = 8192

var compiledMatchers = memo.New[matcherKey, compiled](maxCachedMatchers)

// matcherKey identifies one compiled matcher.
type matcherKey struct {
	expression string
	limits     match.Limits
}

type compiled struct {
	m   *match.Matcher
	err error
}

// compile returns the compiled matcher for expression, compiling it the first time.
func (mc matcherCache) compile(expression string) (*match.Matcher, error) {
	key := matcherKey{expression, mc.limits}
	if got, ok := compiledMatchers.Get(key); ok {
		return got.m, got.err
	}
	var got compiled
	got.m, got.err = match.CompileWithLimits(expression, mc.limits)
	compiledMatchers.Put(key, got)
	return got.m, got.err
}

// compileAll compiles the matchers of entries not compiled yet, on every CPU at once.
func (mc matcherCache) compileAll(entries []spec.Entry) {
	parallel(len(entries), func(i int) { mc.compile(entries[i].Match) })
}

// parallel calls do(0) to do(n-1) on every CPU at once and waits for them.
func parallel(n int, do func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				do(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

func (mc matcherCache) match(expression string, node match.Node) (bool, error) {
	m, err := mc.compile(expression)
	if err != nil {
		return false, err
	}
	return m.Match(node)
}

// planEntry decides what to do with one entry.
func planEntry(e spec.Entry, node match.Node, st *install.Store, full bool, matchers matcherCache) Step {
	step := Step{Name: e.Name, Entry: e}
	refuse := func(err error) Step {
		step.Action, step.Err, step.Reason = ActionRefuse, err, err.Error()
		return step
	}
	matched, err := matchers.match(e.Match, node)
	if err != nil {
		return refuse(err)
	}
	if !matched {
		step.Action, step.Reason = ActionSkip, "matcher is false on this node"
		return step
	}

	target := filepath.Join(st.Dir(), e.Name)
	fi, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		step.Action, step.Reason = ActionInstall, "not installed"
		return step
	case err != nil:
		return refuse(fmt.Errorf("inspect %s: %w", target, err))
	case !fi.IsDir():
		return refuse(fmt.Errorf("%w: %s exists and is a %s, not a machine mms installed", errs.ErrNotManaged, target, fi.Mode().Type()))
	}

	managed, isManaged := st.Managed(e.Name)
	if isManaged && managed.Checksum != e.Checksum {
		step.Action, step.Reason = ActionUpdate, fmt.Sprintf("archive checksum changed from %s", short(managed.Checksum))
		return step
	}
	var cache sums.Cache
	if isManaged && managed.VerifyChecksum == e.VerifyChecksum {
		cache = managed.Files
	}
	files, verr := sums.VerifyTree(target, e.VerifyChecksum, cache, full)
	var strays sums.Strays
	if verr == nil {
		if strays, err = sums.FindStrays(target, files); err != nil {
			return refuse(err)
		}
	}
	switch {
	case verr == nil && isManaged && !strays.Empty():
		// Repair reinstalls from the archive: the swap takes the strays away.
		step.Action, step.Reason = ActionRepair, "installed copy holds what its archive does not: "+strays.String()
	case verr == nil && isManaged:
		step.Action, step.Reason, step.Files = ActionKeep, "installed and verified", files
	case verr == nil && len(strays.Extra) > 0:
		return refuse(fmt.Errorf("%w: %s verifies against the entry but also holds %s: not adopted, since a later purge would delete them; move them away", errs.ErrNotManaged, target, strays.String()))
	case verr == nil:
		step.Action, step.Reason, step.Files = ActionAdopt, "already on disk and verifies against the entry", files
	case isManaged:
		step.Action, step.Reason = ActionRepair, fmt.Sprintf("installed copy fails verification: %v", verr)
	default:
		return refuse(fmt.Errorf("%w: %s exists, was not installed by mms and does not verify against the entry; move it away or rename the entry", errs.ErrNotManaged, target))
	}
	return step
}

// short abbreviates a checksum for messages.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
