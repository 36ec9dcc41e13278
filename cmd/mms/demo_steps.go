package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mms-io/mms/demo"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// demoMachine is the example machine's name.
const demoMachine = demo.MachineName

// demoVersions are the two versions of the example machine the demo deploys.
func demoVersions() (string, string) { return demo.Versions[0], demo.Versions[1] }

// step is one step of the demo: cmds are the mms commands it stands for, as an operator would
// type them; do does what they do and returns what happened, in a few words.
type step struct {
	title string
	cmds  []string
	do    func(ctx context.Context) (string, error)
}

// stepPrinter prints each step, its progress while it runs and its outcome with its duration.
type stepPrinter struct {
	w        io.Writer
	terminal bool // redraw a progress line in place
}

func newStepPrinter(f *os.File) *stepPrinter {
	p := &stepPrinter{w: f}
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.terminal = true
	}
	return p
}

// progressEvery is how often the progress line is redrawn on a terminal; slowNotice how
// often a line is printed elsewhere while a step is still running.
const (
	progressEvery = 100 * time.Millisecond
	slowNotice    = 2 * time.Second
)

// run runs step number i of n under a deadline, showing progress until it returns.
func (p *stepPrinter) run(ctx context.Context, i, n int, s step) error {
	fmt.Fprintf(p.w, "[%d/%d] %s\n", i, n, s.title)
	for _, c := range s.cmds {
		fmt.Fprintf(p.w, "      $ %s\n", c)
	}
	sctx, cancel := context.WithTimeout(ctx, demoStepTimeout)
	defer cancel()
	type outcome struct {
		what string
		err  error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		what, err := s.do(sctx)
		done <- outcome{what, err}
	}()
	every := slowNotice
	if p.terminal {
		every = progressEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	spinner := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	for frame := 0; ; frame++ {
		select {
		case o := <-done:
			took := readableDuration(time.Since(start))
			if p.terminal {
				fmt.Fprint(p.w, "\r\033[K")
			}
			if o.err != nil {
				fmt.Fprintf(p.w, "      FAILED after %s: %v\n", took, o.err)
				return o.err
			}
			fmt.Fprintf(p.w, "      ok in %s: %s\n", took, o.what)
			return nil
		case <-tick.C:
			elapsed := readableDuration(time.Since(start).Round(100 * time.Millisecond))
			if p.terminal {
				fmt.Fprintf(p.w, "\r\033[K      %c working… %s", spinner[frame%len(spinner)], elapsed)
			} else {
				fmt.Fprintf(p.w, "      still working… %s\n", elapsed)
			}
		}
	}
}

// outcomes collects the agent's reconciles, for the steps to wait on.
type outcomes struct {
	mu      sync.Mutex
	list    []nodeloop.Outcome
	changed chan struct{} // closed and replaced on every add
}

func newOutcomes() *outcomes { return &outcomes{changed: make(chan struct{})} }

// add records one reconcile; the agent loop calls it.
func (o *outcomes) add(out nodeloop.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = append(o.list, out)
	close(o.changed)
	o.changed = make(chan struct{})
}

// wait returns the agent's reconcile of revision rev after a change, once it happened.
func (o *outcomes) wait(ctx context.Context, rev uint64) (nodeloop.Outcome, error) {
	for {
		o.mu.Lock()
		for _, out := range o.list {
			if out.Revision == rev && out.Has(nodeloop.TriggerSpecification) && out.Report != nil {
				o.mu.Unlock()
				return out, nil
			}
		}
		changed := o.changed
		o.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nodeloop.Outcome{}, fmt.Errorf("revision %d: %w (%v)", rev, errNoOutcome, context.Cause(ctx))
		}
	}
}

// resultFor returns the report's result for the example machine.
func resultFor(rep *machines.Report) (machines.Result, bool) {
	for _, r := range rep.Results {
		if r.Name == demoMachine {
			return r, true
		}
	}
	return machines.Result{}, false
}

// installed checks that the example machine is on disk at version. A directory left by an
// earlier demo run may already hold it: then the agent keeps it rather than installing.
func installed(version string) func(string, *machines.Report) (string, error) {
	return func(dir string, rep *machines.Report) (string, error) {
		r, ok := resultFor(rep)
		if !ok {
			return "", fmt.Errorf("the agent did nothing with %s", demoMachine)
		}
		return onDisk(dir, version, r)
	}
}

// updated checks that the agent replaced the example machine with version.
func updated(version string) func(string, *machines.Report) (string, error) {
	return func(dir string, rep *machines.Report) (string, error) {
		r, ok := resultFor(rep)
		if !ok || r.Action != machines.ActionUpdate {
			return "", fmt.Errorf("the agent did not update %s: %+v", demoMachine, r)
		}
		return onDisk(dir, version, r)
	}
}

// purged checks that the agent removed the example machine.
func purged() func(string, *machines.Report) (string, error) {
	return func(dir string, rep *machines.Report) (string, error) {
		r, ok := resultFor(rep)
		if !ok || r.Action != machines.ActionRemove {
			return "", fmt.Errorf("the agent did not remove %s: %+v", demoMachine, r)
		}
		if _, err := os.Lstat(filepath.Join(dir, demoMachine)); !os.IsNotExist(err) {
			return "", fmt.Errorf("%s is still in %s", demoMachine, dir)
		}
		return fmt.Sprintf("%s %s (%s), the directory is gone", r.Action, r.Name, r.Reason), nil
	}
}

// onDisk checks the deployed machine's version and describes the result.
func onDisk(dir, version string, r machines.Result) (string, error) {
	got, err := demo.Version(filepath.Join(dir, demoMachine))
	if err != nil {
		return "", err
	}
	if got != version {
		return "", fmt.Errorf("%s on disk is version %s, want %s", demoMachine, got, version)
	}
	return fmt.Sprintf("%s %s (%s), %s now declares version %s", r.Action, r.Name, r.Reason, filepath.Join(dir, demoMachine, "machine.yaml"), got), nil
}

// jsonEntries renders entries as the machines file mms pack reads.
func jsonEntries(entries []spec.Entry) ([]byte, error) {
	if entries == nil {
		entries = []spec.Entry{}
	}
	return json.Marshal(entries)
}
