package sums

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type benchMachine struct {
	root, sum string
	cache     Cache
}

// benchFleet writes 100 machines of 20 files (1 KiB to 20 KiB each) and verifies them once.
func benchFleet(b *testing.B) []benchMachine {
	b.Helper()
	later(b)
	dir := b.TempDir()
	fleet := make([]benchMachine, 100)
	for m := range fleet {
		files := map[string]string{}
		for f := 0; f < 20; f++ {
			files[fmt.Sprintf("dir%d/file%02d", f%3, f)] = strings.Repeat(fmt.Sprint(m, f), 100*(f+1))
		}
		root, sum := writeTree(b, dir, fmt.Sprintf("m%03d", m), files)
		cache, err := VerifyTree(root, sum, nil, true)
		if err != nil || len(cache) != len(files)+1 { // the files and SHA256SUMS
			b.Fatal(err, len(cache))
		}
		fleet[m] = benchMachine{root, sum, cache}
	}
	return fleet
}

// BenchmarkVerifyTreeCached measures one reconcile's re-verification of 100 unchanged machines
// of 20 files each: one op is the whole fleet.
func BenchmarkVerifyTreeCached(b *testing.B) {
	fleet := benchFleet(b)
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		for _, m := range fleet {
			if _, err := VerifyTree(m.root, m.sum, m.cache, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkVerifyTreeFull is the same fleet hashed in full.
func BenchmarkVerifyTreeFull(b *testing.B) {
	fleet := benchFleet(b)
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		for _, m := range fleet {
			if _, err := VerifyTree(m.root, m.sum, m.cache, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
}
