package machines

import (
	"runtime"
	"sync"

	"github.com/mms-io/mms/internal/memo"
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
	// Installed is, for ActionUpdate, the archive checksum of the version it replaces; for
	// ActionWait, the one that stays.
	Installed string
}

// Plan is what a reconcile will do, decided before anything on disk changes: a value to print
// (mms apply --dry-run) or to carry out (Apply).
type Plan struct {
	// Spec is the specification planned for.
	Spec *spec.Spec
	// Steps holds one step per entry and per machine to remove, in name order.
	Steps []Step
}

// Matched is whether one entry's matcher is true on this node.
type Matched struct {
	// OK reports the matcher true.
	OK bool
	// Err is why it could not be evaluated: the entry is then refused, never purged.
	Err error
}

// MakePlan decides, for every entry of s and every machine st manages, what to do on this
// node: it evaluates the matchers (MatchAll), reads the node (TakeInventory, which re-verifies
// installed machines cheaply from st's stamps unless cfg.FullVerify) and decides (Decide). It
// changes nothing.
func MakePlan(s *spec.Spec, st *install.Store, cfg Config) *Plan {
	matched := MatchAll(s, cfg.Node, cfg.Matcher)
	p := Decide(s, matched, TakeInventory(s, matched, st, cfg.FullVerify), cfg.Purge)
	stageRollouts(p, cfg)
	return p
}

// MatchAll evaluates the matcher of every entry of s on node, within limits, on every CPU at
// once; the result is by entry index.
func MatchAll(s *spec.Spec, node match.Node, limits match.Limits) []Matched {
	mc := matcherCache{limits: limits}
	matched := make([]Matched, len(s.Entries))
	parallel(len(s.Entries), func(i int) {
		matched[i].OK, matched[i].Err = mc.match(s.Entries[i].Match, node)
	})
	return matched
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

func (mc matcherCache) match(expression string, node match.Node) (bool, error) {
	m, err := mc.compile(expression)
	if err != nil {
		return false, err
	}
	return m.Match(node)
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

// short abbreviates a checksum for messages.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
