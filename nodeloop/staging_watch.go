package nodeloop

import (
	"context"
	"fmt"
	"time"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines/rollout"
)

// Run watches, until ctx ends, the gate of every change in flight on this node and the health
// of those it took, and wakes the loop when one is admitted, must be taken back or halts.
// Nothing is read while no change is in flight.
func (s *Staging) Run(ctx context.Context) {
	s.mu.Lock()
	s.init()
	poll := s.Poll
	s.mu.Unlock()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.Step(ctx)
		}
	}
}

// inFlight are the changes the watch looks after, with the gate.
func (s *Staging) inFlight() (GateStore, map[string]*change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	out := map[string]*change{}
	for id, c := range s.changes {
		switch {
		case c.Final:
		case c.Phase == PhaseWaiting && c.Registered, c.Phase == PhaseChecking, c.Phase == PhaseHealthy, c.Phase == PhaseUnhealthy:
			out[id] = c
		}
	}
	return s.store, out
}

// Step looks once at every change in flight: Run calls it every Poll.
func (s *Staging) Step(ctx context.Context) {
	store, changes := s.inFlight()
	if store == nil {
		return
	}
	wake := false
	for id, c := range changes {
		if ctx.Err() != nil {
			return
		}
		wake = s.stepChange(ctx, store, id, c) || wake
	}
	if wake {
		s.poke()
	}
}

// stepChange looks at one change and says whether the loop should reconcile.
func (s *Staging) stepChange(ctx context.Context, store GateStore, id string, c *change) bool {
	s.mu.Lock()
	phase, wasOpen := c.Phase, c.verdict.Open
	s.mu.Unlock()
	if phase == PhaseUnhealthy {
		return true // its revert is still to be done
	}
	wake := false
	if phase == PhaseChecking || phase == PhaseHealthy {
		wake = s.checkHealth(ctx, store, id, c)
	}
	v, err := s.judge(store, id, c, true)
	if err != nil {
		s.Logger.Warn("could not read the rollout gate", "machine", c.Entry, "change", id, "error", err)
		return wake
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case c.Phase == PhaseWaiting && v.Halted:
		c.Phase, c.Reason, c.Final = PhaseHalted, v.Reason, true
		s.Logger.Warn("the rollout halted before this node took the change: it never will", "machine", c.Entry, "change", id, "reason", v.Reason)
		s.save()
		return true
	case c.Phase == PhaseWaiting:
		return wake || v.Open && !wasOpen
	case v.Halted && c.policy.OnHalt == rollout.OnHaltHold:
		c.Final = true
		s.Logger.Warn("the rollout halted; this node is healthy and keeps the change (on_halt: hold)", "machine", c.Entry, "change", id, "reason", v.Reason)
		s.save()
	case v.Halted && c.revert == "":
		c.revert = v.Reason
		s.Logger.Warn("the rollout halted: taking the change back", "machine", c.Entry, "change", id, "reason", v.Reason)
		return true
	}
	return wake
}

// checkHealth runs the health check of a change this node took, counts its outcome in the
// gate, and says whether the loop should reconcile (to take it back).
func (s *Staging) checkHealth(ctx context.Context, store GateStore, id string, c *change) bool {
	s.mu.Lock()
	p, phase, installedAt := c.policy, c.Phase, c.InstalledAt
	s.mu.Unlock()
	h, why := HealthGood, "no health check"
	if s.Health != nil {
		h, why = s.Health(ctx, c.Entry, p)
	}
	if h == HealthPending && s.Now().Sub(installedAt) >= p.HealthyDeadline {
		h, why = HealthBad, fmt.Sprintf("not healthy within healthy_deadline %s (%s)", p.HealthyDeadline, why)
	}
	switch {
	case h == HealthGood && phase == PhaseChecking:
		s.mu.Lock()
		c.Phase, c.Reason, c.Healthy = PhaseHealthy, why, true
		s.save()
		s.mu.Unlock()
		s.Logger.Info("the staged change is healthy here", "machine", c.Entry, "change", id, "after", s.Now().Sub(installedAt).Round(time.Millisecond), "reason", why)
		s.add(store, id, c, gate.Healthy, 1)
		return true // a reconcile, so that the node's status says so
	case h == HealthBad:
		s.mu.Lock()
		wasHealthy := c.Healthy
		c.Phase, c.Reason, c.Unhealthy, c.Healthy = PhaseUnhealthy, why, true, false
		c.revert = "unhealthy: " + why
		s.save()
		s.mu.Unlock()
		s.Logger.Error("the staged change is unhealthy here: taking it back", "machine", c.Entry, "change", id, "reason", why)
		if wasHealthy {
			s.add(store, id, c, gate.Healthy, -1)
		}
		s.add(store, id, c, gate.Unhealthy, 1)
		return true
	}
	return false
}
