package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/spec"
)

// envCrashSeed, when set, replays the kill schedule and archive contents of an earlier run.
const envCrashSeed = "MMS_CRASH_SEED"

const (
	crashKills = 30 // mms apply children killed per run
	// crashDelaySpan scales the longest kill delay to the measured length of one apply, so
	// that a few children finish and most die somewhere inside.
	crashDelaySpan = 1.2
)

var crashMachines = []string{"api", "db", "web"}

// crashVersion writes version v ("a" or "b") of every crash machine under root: shared files
// whose contents differ, files only this version has, a nested directory, and a few hundred
// KiB of incompressible data so that an apply takes long enough to be killed inside.
func crashVersion(t *testing.T, rng *rand.Rand, root, v string) map[string]string {
	t.Helper()
	blob := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	srcs := map[string]string{}
	for _, name := range crashMachines {
		files := map[string]string{
			"bin/run":         fmt.Sprintf("#!/bin/sh\necho %s version %s\n", name, v),
			"data/shared.bin": blob(128 << 10),
			"data/small.txt":  strings.Repeat(name+" "+v+"\n", 200),
		}
		if v == "a" {
			files["conf/a.yaml"] = "only: a\n"
			files["data/a-only.bin"] = blob(96 << 10)
		} else {
			files["conf/b.yaml"] = "only: b\n"
			files["lib/b/deep/b-only.bin"] = blob(112 << 10)
		}
		srcs[name] = writeMachine(t, root, name, files)
	}
	return srcs
}

// crashSeed is $MMS_CRASH_SEED, or a new seed.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(envCrashSeed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envCrashSeed, s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// TestApplySurvivesSIGKILL kills mms apply children at random moments while they switch three
// machines between versions A and B, and checks after every kill that each machine is absent
// (before its first install only), exactly A or exactly B, and that the next apply cleans up
// and converges.
func TestApplySurvivesSIGKILL(t *testing.T) {
	seed := crashSeed(t)
	t.Logf("seed %d (replay with %s=%d)", seed, envCrashSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x6d6d73))

	work, serve := t.TempDir(), t.TempDir()
	srv := archiveServer(t, serve)
	pub, priv := keyPair(t, work)
	bin := mmsPath(t)

	versions := map[string][]spec.Entry{}
	want := map[string]map[string]map[string]string{} // version → machine → tree
	for _, v := range []string{"a", "b"} {
		srcs := crashVersion(t, rng, filepath.Join(work, v), v)
		want[v] = map[string]map[string]string{}
		for _, name := range crashMachines {
			versions[v] = append(versions[v], archiveEntry(t, srcs[name], name, serve, name+"-"+v+".tgz", srv.URL))
			want[v][name] = fileTree(t, srcs[name])
		}
	}
	var version int64
	nextSpec := func(v string) string {
		version++
		return packSpec(t, work, priv, version, versions[v]...)
	}
	applyArgs := func(specPath, dir string) []string {
		return []string{"apply", specPath, "--dir", dir, "--public-key", pub}
	}

	// Uninterrupted updates set the scale of the kill delays; children that finish before
	// their kill shrink it.
	scratch := t.TempDir()
	var longest time.Duration
	for i, v := range []string{"a", "b", "a"} {
		start := time.Now()
		if r := runCmd(t, bin, work, nil, nil, applyArgs(nextSpec(v), scratch)...); r.code != 0 {
			t.Fatalf("apply %s: exit %d: %s%s", v, r.code, r.stdout, r.stderr)
		}
		if i > 0 {
			longest = max(longest, time.Since(start))
		}
	}
	span := time.Duration(float64(longest) * crashDelaySpan)
	t.Logf("an uninterrupted update takes up to %v; kills fall within %v at first", longest, span)

	dir := t.TempDir()
	installed := false // every machine has been installed once
	killed, leftovers := 0, 0
	for i := range crashKills {
		v := []string{"a", "b"}[i%2]
		specPath := nextSpec(v)
		delay := time.Duration(rng.Int64N(int64(span) + 1))

		var out bytes.Buffer
		cmd := exec.Command(bin, applyArgs(specPath, dir)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work}
		cmd.Stdout, cmd.Stderr = &out, &out
		started := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
			// Signal goes through a pidfd: it never reaches another process that reused the
			// PID, and says ErrProcessDone when the apply finished in the meantime.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Fatalf("kill %d: %v", cmd.Process.Pid, err)
			}
			<-done
		case err := <-done:
			timer.Stop()
			// An apply quicker than the span: scale the next delays to it, so that most
			// kills still land inside.
			span = min(span, time.Duration(float64(time.Since(started))*crashDelaySpan))
			if err != nil {
				t.Fatalf("run %d: apply %s finished before its kill, failing: %v: %s", i, v, err, out.String())
			}
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		// Right after the kill: every machine is whole, in one version or the other.
		left := checkWhole(t, dir, want, installed, fmt.Sprintf("kill %d (apply %s after %v)", i, v, delay))
		if ws.Signaled() {
			killed++
			if left {
				leftovers++
			}
		}

		// The next run cleans up and converges.
		r := runCmd(t, bin, work, nil, nil, applyArgs(specPath, dir)...)
		if r.code != 0 {
			t.Fatalf("kill %d: the apply after it: exit %d: %s%s", i, r.code, r.stdout, r.stderr)
		}
		if left := mmsLeftovers(t, dir); len(left) > 0 {
			t.Fatalf("kill %d: the apply after it left %v", i, left)
		}
		for _, name := range crashMachines {
			sameTree(t, fmt.Sprintf("kill %d: %s after the next apply of %s", i, name, v), fileTree(t, filepath.Join(dir, name)), want[v][name])
		}
		installed = true
	}
	t.Logf("%d of %d children died by SIGKILL, %d of them leaving staging or old directories to clean; kills fell within %v at last", killed, crashKills, leftovers, span)
	if killed < crashKills/3 {
		t.Fatalf("only %d of %d children were killed before they finished: the kills did not land inside applies", killed, crashKills)
	}
}

// checkWhole fails unless every crash machine in dir is exactly one version of want, or
// absent before the first install, and nothing but machines and dot entries is there. It reports
// whether mms staging or old directories were left.
func checkWhole(t *testing.T, dir string, want map[string]map[string]map[string]string, installed bool, when string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") && !slices.Contains(crashMachines, e.Name()) {
			t.Fatalf("%s: unexpected %s in the machines directory", when, e.Name())
		}
	}
	for _, name := range crashMachines {
		got := fileTree(t, filepath.Join(dir, name))
		switch {
		case got == nil && !installed:
		case got == nil:
			t.Fatalf("%s: %s is missing", when, name)
		case maps.Equal(got, want["a"][name]), maps.Equal(got, want["b"][name]):
		default:
			sameTree(t, when+": "+name+" is neither A nor B; against A", got, want["a"][name])
		}
	}
	return len(mmsLeftovers(t, dir)) > 0
}

// mmsLeftovers lists the staging and old directories mms keeps beside machines while it works.
func mmsLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".mms-stage-") || strings.HasPrefix(e.Name(), ".mms-old-") {
			left = append(left, e.Name())
		}
	}
	return left
}
