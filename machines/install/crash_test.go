package install

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash tests re-execute the test binary as a child that changes a machines directory
// until it is killed; TestMain turns the binary into that child when these are set.
const (
	envCrashDir  = "MMS_INSTALL_CRASH_DIR"  // the machines directory
	envCrashRun  = "MMS_INSTALL_CRASH_RUN"  // a label that makes this child's versions unique
	envCrashMode = "MMS_INSTALL_CRASH_MODE" // loop-commit, loop-commit-remove, loop-commit-revert, commit-once, remove-once, revert-once
	envCrashAt   = "MMS_INSTALL_CRASH_AT"   // a step at which the child SIGKILLs itself
)

const (
	crashMachine = "web"
	crashFiles   = 20
	// crashChildLifetime bounds a child whose parent died before killing it.
	crashChildLifetime = 2 * time.Minute
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashDir); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(envCrashRun), os.Getenv(envCrashMode), os.Getenv(envCrashAt)))
	}
	os.Exit(m.Run())
}

// crashTag names version k of child run.
func crashTag(run string, k int) string { return fmt.Sprintf("%s-v%d", run, k) }

// crashChild is the child process: it prints "ready", then "committed <tag>" after each
// Commit and "removed" after each Remove, until it is killed.
func crashChild(dir, run, mode, at string) int {
	if at != "" {
		step = func(name string) {
			if name == at {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println("ready")
	commit := func(tag string) error {
		st, err := s.Stage(crashMachine)
		if err != nil {
			return err
		}
		for p, content := range version(tag, crashFiles) {
			full := filepath.Join(st.Path(), filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				return err
			}
		}
		commit := s.Commit
		if mode == "loop-commit-revert" {
			commit = s.CommitKeepingPrevious
		}
		if err := commit(st, Managed{Checksum: tag}); err != nil {
			st.Discard()
			return err
		}
		fmt.Println("committed", tag)
		return nil
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 4 }
	switch mode {
	case "commit-once":
		if err := commit(crashTag(run, 1)); err != nil {
			return fail(err)
		}
		return 5 // the step was never reached
	case "remove-once":
		if err := s.Remove(crashMachine); err != nil {
			return fail(err)
		}
		return 5
	case "revert-once":
		if _, err := s.Revert(crashMachine); err != nil {
			return fail(err)
		}
		return 5
	}
	deadline := time.Now().Add(crashChildLifetime)
	for k := 1; time.Now().Before(deadline); k++ {
		if err := commit(crashTag(run, k)); err != nil {
			return fail(err)
		}
		if mode == "loop-commit-revert" && k%2 == 0 {
			m, err := s.Revert(crashMachine)
			if err != nil {
				return fail(err)
			}
			fmt.Println("reverted", m.Checksum)
		}
		if mode == "loop-commit-remove" && k%2 == 0 {
			if err := s.Remove(crashMachine); err != nil {
				return fail(err)
			}
			fmt.Println("removed")
		}
	}
	return 0
}

// child is a running crash child.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, dir, run, mode, at string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashRun+"="+run, envCrashMode+"="+mode, envCrashAt+"="+at)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// waitReady waits for the child's "ready" line.
func (c *child) waitReady(t *testing.T) {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok || l != "ready" {
			t.Fatalf("child said %q (open: %v) instead of ready", l, ok)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready after 30s")
	}
}

// finish waits for the child to end, which it must do by SIGKILL, and returns what it printed.
func (c *child) finish(t *testing.T) []string {
	t.Helper()
	err := c.cmd.Wait()
	var lines []string
	for l := range c.lines {
		lines = append(lines, l)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	return lines
}

// checkConsistent opens dir as the next mms run would and returns the version of the machine
// installed, or "" when there is none. It fails unless the machine is complete, recorded with
// exactly that version, and no staging or old directory remains.
func checkConsistent(t *testing.T, dir string) string {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	defer s.Close()
	left := mmsEntries(t, dir)
	if _, kept := s.Previous(crashMachine); kept && len(left) == 1 && left[0] == prevName(crashMachine) {
		left = nil // the version a revert would swap back, recorded as such
	}
	if len(left) != 0 {
		t.Fatalf("Open left %v behind", left)
	}
	m, recorded := s.Managed(crashMachine)
	path := filepath.Join(dir, crashMachine)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		if recorded {
			t.Fatalf("%s is gone but still recorded as %+v", crashMachine, m)
		}
		return ""
	}
	files := readTree(t, path)
	tag := strings.TrimPrefix(strings.TrimSpace(files["machine.yaml"]), "name: ")
	if !equalFiles(files, version(tag, crashFiles)) {
		t.Fatalf("%s is not one complete version: %v", crashMachine, files)
	}
	if !recorded || m.Checksum != tag {
		t.Fatalf("%s holds %q but the record says %+v (recorded %v)", crashMachine, tag, m, recorded)
	}
	return tag
}

// installInitial installs the version "initial" of the crash machine.
func installInitial(t *testing.T, dir string) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	install(t, s, crashMachine, "initial", version("initial", crashFiles))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCrashAtEveryStep(t *testing.T) {
	cases := []struct {
		mode, at string
		initial  bool
		want     string // "initial", "new" or "" (absent)
	}{
		{"commit-once", stepCommitSynced, true, "initial"},
		{"commit-once", stepCommitIntent, true, "initial"},
		{"commit-once", stepCommitSwapped, true, "new"},
		{"commit-once", stepCommitDirSynced, true, "new"},
		{"commit-once", stepCommitRecorded, true, "new"},
		{"commit-once", stepCommitSynced, false, ""},
		{"commit-once", stepCommitIntent, false, ""},
		{"commit-once", stepCommitSwapped, false, "new"},
		{"commit-once", stepCommitRecorded, false, "new"},
		{"remove-once", stepRemoveIntent, true, "initial"},
		{"remove-once", stepRemoveRenamed, true, ""},
		{"remove-once", stepRemoveRecorded, true, ""},
		{"revert-once", stepRevertIntent, true, "new"},
		{"revert-once", stepRevertSwapped, true, "initial"},
		{"revert-once", stepRevertRecorded, true, "initial"},
	}
	for _, c := range cases {
		what := "a fresh install"
		if c.initial {
			what = "an installed machine"
		}
		t.Run(fmt.Sprintf("%s killed at %s over %s leaves %q", c.mode, c.at, what, c.want), func(t *testing.T) {
			dir := t.TempDir()
			if c.initial {
				installInitial(t, dir)
			}
			if c.mode == "revert-once" {
				// The new version is installed, the initial one kept to revert to.
				s, err := Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				installKeeping(t, s, crashMachine, crashTag("run", 1), version(crashTag("run", 1), crashFiles))
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			ch := startChild(t, dir, "run", c.mode, c.at)
			ch.waitReady(t)
			ch.finish(t)
			want := c.want
			if want == "new" {
				want = crashTag("run", 1)
			}
			if got := checkConsistent(t, dir); got != want {
				t.Fatalf("after the crash the machine is %q, want %q", got, want)
			}
		})
	}
}

func TestCrashAtRandomMoments(t *testing.T) {
	const (
		seed       = 20250704
		iterations = 30
		maxDelay   = 60 * time.Millisecond
	)
	for _, mode := range []string{"loop-commit", "loop-commit-remove", "loop-commit-revert"} {
		t.Run(mode+" killed at random moments always leaves a complete, recorded version", func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 0))
			t.Logf("seed %d", seed)
			dir := t.TempDir()
			installInitial(t, dir)
			current, commits, changes := "initial", 0, 0
			for i := range iterations {
				run := fmt.Sprintf("run%d", i)
				ch := startChild(t, dir, run, mode, "")
				ch.waitReady(t)
				delay := time.Duration(rnd.Int64N(int64(maxDelay)))
				<-time.After(delay)
				if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				lines := ch.finish(t)
				// The machine may be what the child last reported, or the next step it was taking.
				last, k, before := current, 0, ""
				for _, l := range lines {
					switch {
					case strings.HasPrefix(l, "committed "):
						before, last, k = last, strings.TrimPrefix(l, "committed "), k+1
						commits++
					case l == "removed":
						last = ""
					case strings.HasPrefix(l, "reverted "):
						last = strings.TrimPrefix(l, "reverted ")
					}
				}
				got := checkConsistent(t, dir)
				next := crashTag(run, k+1)
				removing := mode == "loop-commit-remove" && got == "" && k%2 == 0 && k > 0
				// A revert after an even commit swaps back the version that commit replaced.
				reverting := mode == "loop-commit-revert" && k%2 == 0 && k > 0 && strings.HasPrefix(lines[len(lines)-1], "committed ") && got == before
				if got != last && got != next && !removing && !reverting {
					t.Fatalf("iteration %d (killed after %v): machine is %q; want %q (last reported) or %q (in progress)", i, delay, got, last, next)
				}
				if got != current {
					changes++
				}
				current = got
			}
			t.Logf("%d commits completed across %d kills; the installed version changed %d times", commits, iterations, changes)
			if commits == 0 || changes == 0 {
				t.Fatalf("no kill landed after a commit (%d commits, %d changes): the test proved nothing", commits, changes)
			}
		})
	}
}
