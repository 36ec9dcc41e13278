package match

import (
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestMatcherMemoryIsBounded(t *testing.T) {
	// A fact of 64 KiB, rebuilt 100,000 times: 6.4 GB without a bound.
	facts := []byte(`{"big":"` + strings.Repeat("a", 64<<10) + `"}`)
	node, err := NewNode("n", facts, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, builtin := range []string{"upper", "lower", "trim", "trimPrefix", "trimSuffix"} {
		t.Run(builtin+" in a loop allocates about max_matcher_bytes at most", func(t *testing.T) {
			// The fact is read once; each iteration builds a new 64 KiB string from it.
			arg := "s"
			if builtin == "trimPrefix" || builtin == "trimSuffix" {
				arg += ", 'x'"
			}
			src := "let s = get_fact('big') + 'b'; len(map(1..100000, " + builtin + "(" + arg + "))) > 0"
			m, err := CompileWithLimits(src, Limits{MaxBytes: 4 << 20})
			if err != nil {
				t.Fatal(err)
			}
			var merr error
			got := allocated(func() { _, merr = m.Match(node) })
			if stringBuilders[builtin] {
				// It builds a new string each time: the byte budget stops it.
				assertLimitError(t, merr, LimitBytes)
			} else if merr == nil {
				// It returns a part of its argument, building nothing: the steps stop it.
				t.Fatal("a loop of 100,000 iterations ran to its end")
			}
			// What the matcher builds is bounded by max_matcher_bytes (one string may pass it
			// before the count stops the evaluation); expr's own bookkeeping, a few hundred
			// bytes an iteration, by max_matcher_steps. Unbounded, this was 6.4 GB.
			if limit := uint64(2*(4<<20) + DefaultMaxSteps*256); got > limit {
				t.Fatalf("one evaluation allocated %d MiB, over %d MiB", got>>20, limit>>20)
			}
		})
	}
}
