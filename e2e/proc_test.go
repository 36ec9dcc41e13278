package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a process is given to exit after SIGTERM before its group is killed.
const stopGrace = 10 * time.Second

// proc is a process this suite started, in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProc starts bin with args in its own process group, output appended to logFile, and
// stops it when the test ends, even when it fails.
func startProc(t *testing.T, name, logFile string, env []string, bin string, args ...string) *proc {
	t.Helper()
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	// Pdeathsig is the safety net for when the test binary dies without running cleanups
	// (a panic, go test's -timeout): the kernel then kills the child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Logf("stop %s: %v", name, err)
		}
	})
	return p
}

// running tells whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group this suite created, waits for the process to exit,
// and kills the group with SIGKILL when it does not within stopGrace. Stopping twice is safe.
func (p *proc) stop() error {
	pgid := p.cmd.Process.Pid // Setpgid makes the group id the leader's pid.
	if !p.running() {
		// The leader is gone; children it left in the group are still ours to end.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	}
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM group %d: %w", pgid, err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	case <-timer.C:
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL group %d: %w", pgid, err)
	}
	<-p.done
	return fmt.Errorf("%s did not exit within %v of SIGTERM and was killed", p.name, stopGrace)
}

// baseEnv is the environment of every child: this one without what would change Choria's
// identity or configuration behind the suite's back.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch key, _, _ := strings.Cut(kv, "="); key {
		case "MCOLLECTIVE_CERTNAME", "CHORIA_CONFIG", "NATS_URL", "CHORIA_SRV_DOMAIN":
			continue
		}
		env = append(env, kv)
	}
	return env
}
