package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/spec"
)

const (
	unchangedMachines = 100
	unchangedFiles    = 19 // plus the SHA256SUMS Build writes: 20 files per machine
)

// unchanged times mms apply on 100 installed machines of 20 files each when nothing changed,
// against mms version (the cost of starting the process), and runs the in-process benchmark.
func (b *bench) unchanged() error {
	var entries []spec.Entry
	for i := range unchangedMachines {
		name := fmt.Sprintf("m%03d", i)
		src, err := writeBenchMachine(filepath.Join(b.work, "src-unchanged"), name, unchangedFiles, 20<<10, uint64(100+i))
		if err != nil {
			return err
		}
		e, _, err := b.archiveMachine(src, name)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	specPath, err := b.writeSpec(entries...)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(b.work, "unchanged-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := []string{"apply", specPath, "--dir", dir, "--public-key", b.pubHex}
	if _, out, err := runChild(b.mms, args...); err != nil {
		return err
	} else if n := strings.Count(out, "\ninstall "); n != unchangedMachines {
		return fmt.Errorf("the first apply installed %d machines: %s", n, out)
	}
	syncDisk()

	time1 := func(args ...string) ([]time.Duration, error) {
		var walls []time.Duration
		for range b.opt.unchangedRuns {
			m, out, err := runChild(b.mms, args...)
			if err != nil {
				return nil, err
			}
			if args[0] == "apply" && strings.Count(out, "\nkeep ") != unchangedMachines {
				return nil, fmt.Errorf("an unchanged apply did not keep every machine: %s", out)
			}
			walls = append(walls, m.wall)
		}
		return walls, nil
	}
	start, err := time1("version")
	if err != nil {
		return err
	}
	stamps, err := time1(args...)
	if err != nil {
		return err
	}
	full, err := time1(append(args, "--full-verify")...)
	if err != nil {
		return err
	}
	fmt.Printf("\n== nothing changed: %d installed machines of %d files, mms apply again (median of %d) ==\n", unchangedMachines, unchangedFiles+1, b.opt.unchangedRuns)
	fmt.Printf("mms version (process start only): %s\n", ms(median(start)))
	fmt.Printf("mms apply, stamps trusted:         %s (about %s after start)\n", ms(median(stamps)), ms(median(stamps)-median(start)))
	fmt.Printf("mms apply --full-verify:           %s (about %s after start)\n", ms(median(full)), ms(median(full)-median(start)))
	if !b.opt.goBench {
		return nil
	}
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkReconcileUnchanged$", "-benchtime", "2s", "./machines/")
	cmd.Dir = moduleRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench BenchmarkReconcileUnchanged ./machines/: %w: %s", err, out)
	}
	fmt.Println("in process: go test -run '^$' -bench '^BenchmarkReconcileUnchanged$' -benchtime 2s ./machines/")
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			fmt.Println(l)
		}
	}
	return nil
}
