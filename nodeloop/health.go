package nodeloop

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/rollout"
)

// Health is how a machine this node installed is doing.
type Health int

// The healths.
const (
	// HealthPending: not decided yet (not healthy, not failed); past healthy_deadline it is
	// unhealthy.
	HealthPending Health = iota
	// HealthGood: healthy.
	HealthGood
	// HealthBad: unhealthy at once (entered a failed state).
	HealthBad
)

// HealthFunc checks the machine a staged change installed at installed, as its policy says,
// and says why.
type HealthFunc func(ctx context.Context, machine string, p rollout.Policy, installed time.Time) (Health, string)

// StateHealth checks a Choria machine by its current state (state returns "" while the machine
// is not running): in one of failed_states it is unhealthy at once, in one of healthy_states
// healthy; a policy with no healthy_states is healthy once the machine runs and is not failed.
// Choria's loader runs the new version only a while after it is installed (it looks every 10
// seconds), and until then the state read is the old version's: for settle after the install
// nothing is judged.
func StateHealth(state func(machine string) string, settle time.Duration) HealthFunc {
	return func(_ context.Context, machine string, p rollout.Policy, installed time.Time) (Health, string) {
		if wait := time.Until(installed.Add(settle)); wait > 0 {
			return HealthPending, fmt.Sprintf("waiting %s for Choria to run the new version", wait.Round(time.Second))
		}
		st := state(machine)
		switch {
		case st == "":
			return HealthPending, "the machine is not running"
		case slices.Contains(p.FailedStates, st):
			return HealthBad, fmt.Sprintf("entered state %s, one of failed_states", st)
		case slices.Contains(p.HealthyStates, st):
			return HealthGood, fmt.Sprintf("in state %s, one of healthy_states", st)
		case len(p.HealthyStates) == 0:
			return HealthGood, fmt.Sprintf("running, in state %s (no healthy_states given)", st)
		}
		return HealthPending, fmt.Sprintf("in state %s, not one of healthy_states %s", st, strings.Join(p.HealthyStates, ", "))
	}
}

// CommandHealth checks a machine with the policy's health_command, run in the machine's
// directory under dir, with no shell, bounded by health_timeout: exit 0 is healthy, anything
// else not yet (until healthy_deadline). A policy without a command is healthy once installed.
func CommandHealth(dir string) HealthFunc {
	return func(ctx context.Context, machine string, p rollout.Policy, _ time.Time) (Health, string) {
		if len(p.HealthCommand) == 0 {
			return HealthGood, "installed (no health_command given)"
		}
		ctx, cancel := context.WithTimeout(ctx, p.HealthTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, p.HealthCommand[0], p.HealthCommand[1:]...)
		cmd.Dir = filepath.Join(dir, machine)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return HealthGood, "health_command exited 0"
		case ctx.Err() != nil:
			return HealthPending, fmt.Sprintf("health_command did not end within health_timeout %s", p.HealthTimeout)
		case errors.As(err, &exit):
			return HealthPending, fmt.Sprintf("health_command exited %d: %s", exit.ExitCode(), clipOutput(out))
		}
		return HealthPending, fmt.Sprintf("health_command could not run: %v", err)
	}
}

// clipOutput keeps the last line of a health command's output, bounded, for a reason.
func clipOutput(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
