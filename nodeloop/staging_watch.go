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
//
// The gate is read when something says it changed, not on a clock: the controls' watch tells
// of a halt, pause, resume or promotion the moment it is written, and of the moment a wave may
// open (a ready hint, written by the node whose health report completed the waves before it).
// A waiting node also reads the gate every Poll, for what no hint tells (a wave that is empty
// or offline); the health of a change this node took is checked at once after the install,
// then every second (or Poll, when shorter) until it is decided, and on while it is healthy
// with CheckHealthy. Without the watch (it could not start), every change in flight is read
// every Poll instead.
func (s *Staging) Run(ctx context.Context) {
	s.mu.Lock()
	s.init()
	kick := s.kick
	s.mu.Unlock()
	timer := time.NewTimer(s.Poll)
	defer timer.Stop()
	var events <-chan gate.Event
	for {
		if events == nil {
			events = s.watch(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-kick:
			timer.Stop()
		case ev, ok := <-events:
			timer.Stop()
			if !ok {
				events = nil
				s.setWatching(false)
				break
			}
			s.event(ev)
		}
		s.Step(ctx)
		timer.Reset(s.nextLook())
	}
}

// watch starts the controls' watch once the gate is there; nil until it runs.
func (s *Staging) watch(ctx context.Context) <-chan gate.Event {
	s.mu.Lock()
	store := s.store
	s.mu.Unlock()
	if store == nil {
		return nil
	}
	events, err := store.Watch(ctx)
	if err != nil {
		s.Logger.Warn("could not watch the rollout controls: reading the gate every rollout_poll instead", "error", err)
		return nil
	}
	s.setWatching(true)
	return events
}

func (s *Staging) setWatching(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watching = on
}

// event takes one control written for a change: the gate is read again at once, or, for a
// ready hint of this node's wave, at the moment it names.
//
// A halt or a pause only stops a rollout, and is taken as it comes, with no read (anyone who
// can write the bucket may pause, and the nodes write the halt): however many nodes wait,
// one written word stops them without a burst of reads. A resume or promotion has its
// signature checked by reading the gate.
func (s *Staging) event(ev gate.Event) {
	s.mu.Lock()
	c, ok := s.changes[ev.Change]
	if !ok || c.Final {
		s.mu.Unlock()
		return
	}
	now := s.Now()
	announce := false
	switch ev.Action {
	case gate.ActionReady:
		if ev.Wave == c.Wave+1 && c.Phase == PhaseWaiting {
			c.readyAt, c.nextRead = ev.At, ev.At
			if !c.read {
				// Unread since this node began to track it, the gate may hold a pause the
				// watch never told of: read it now, a bake before the wave opens, not then.
				c.nextRead = now
			}
		}
		if ev.Wave == c.Waves && ev.At.After(c.lastWaveAt) {
			c.lastWaveAt = ev.At
		}
	case gate.ActionHalt:
		why := "halted: " + ev.Reason
		c.verdict, c.readAt = rollout.Verdict{Halted: true, Reason: why}, now
		switch {
		case c.Phase == PhaseWaiting:
			c.Phase, c.Reason, c.Final = PhaseHalted, why, true
			s.Logger.Warn("the rollout halted before this node took the change: it never will", "machine", c.Entry, "change", ev.Change, "reason", why, "by", ev.By)
			s.save()
			announce = true
		case c.policy.OnHalt == rollout.OnHaltHold:
			c.Final = true
			s.Logger.Warn("the rollout halted; this node keeps the change unless it is unhealthy here (on_halt: hold)", "machine", c.Entry, "change", ev.Change, "reason", why)
			s.save()
		case c.revert == "":
			c.revert = why
			s.Logger.Warn("the rollout halted: taking the change back", "machine", c.Entry, "change", ev.Change, "reason", why)
			s.poke()
		}
	case gate.ActionPause:
		if c.Phase == PhaseWaiting {
			c.verdict, c.readAt = rollout.Verdict{Paused: true, Reason: fmt.Sprintf("paused by %s: %s", ev.By, ev.Reason)}, now
			s.Logger.Warn("the rollout is paused", "machine", c.Entry, "change", ev.Change, "by", ev.By, "reason", ev.Reason)
			announce = true
		}
	default: // resume, promote: read, and check the signature
		c.readAt, c.nextRead = time.Time{}, time.Time{}
	}
	s.mu.Unlock()
	if announce && s.OnChange != nil {
		s.OnChange()
	}
}

// healthEvery is how often, at most, the health of a change this node took is checked (and
// every rollout_poll when that is shorter).
const healthEvery = time.Second

// nextLook is how long until the watch should look again: Poll, or less when a change is due
// to be read sooner (a bake ends, a hinted wave opens) or a health deadline comes.
func (s *Staging) nextLook() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.Poll
	now := s.Now()
	for _, c := range s.changes {
		if s.checks(c, now) {
			next = min(next, healthEvery) // the health check is the node's own: no read
		}
		if c.Phase == PhaseChecking && !c.Final && !c.InstalledAt.IsZero() {
			// Not healthy by its deadline is unhealthy then, not a poll later.
			if d := c.InstalledAt.Add(c.policy.HealthyDeadline).Sub(now) + time.Millisecond; d < next {
				next = max(d, time.Millisecond)
			}
		}
		if c.Phase != PhaseWaiting || !c.Registered || c.Final {
			continue
		}
		for _, at := range []time.Time{c.nextRead, c.verdict.Until} {
			if !at.IsZero() && !c.verdict.Open {
				if d := at.Sub(now) + time.Millisecond; d < next {
					next = max(d, time.Millisecond)
				}
			}
		}
	}
	return next
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
		case c.policy.Waves == nil:
			// Remembered across a restart, its policy not heard again yet: the reconcile asks
			// about its entry first (Admit, Revert), which brings the policy.
		case c.Phase == PhaseWaiting && c.Registered, c.Phase == PhaseChecking, c.Phase == PhaseHealthy, c.Phase == PhaseUnhealthy:
			out[id] = c
		}
	}
	return s.store, out
}

// Step looks once at every change in flight: Run calls it.
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
		s.resend(store, id, c)
		wake = s.stepChange(ctx, store, id, c) || wake
	}
	if wake {
		s.poke()
	}
}

// due tells whether the gate of c is to be read now: never read since an event said so, its
// poll or hinted moment came, or (without the watch) every Poll. The caller holds s.mu.
func (s *Staging) due(c *change, now time.Time) bool {
	switch {
	case c.readAt.IsZero():
		return true
	case c.Phase == PhaseWaiting:
		return !now.Before(c.nextRead) || !c.verdict.Until.IsZero() && !now.Before(c.verdict.Until)
	}
	return !s.watching && now.Sub(c.readAt) >= s.Poll
}

// stepChange looks at one change and says whether the loop should reconcile.
func (s *Staging) stepChange(ctx context.Context, store GateStore, id string, c *change) bool {
	s.mu.Lock()
	phase, check := c.Phase, s.checks(c, s.Now())
	settles := phase == PhaseHealthy && s.CheckHealthy && !check && !c.settled
	c.settled = c.settled || settles
	s.mu.Unlock()
	if phase == PhaseUnhealthy {
		return true // its revert is still to be done
	}
	if settles {
		s.Logger.Info("the staged change stayed healthy here for the bake, and the rollout is past this node: its health is no longer watched",
			"machine", c.Entry, "change", id)
	}
	wake, judge := false, false
	if check {
		wake, judge = s.checkHealth(ctx, store, id, c)
	}
	s.mu.Lock()
	now := s.Now()
	if c.Phase == PhaseWaiting && byHint(c, now) {
		// The node whose report completed the earlier waves said this one opens now, and no
		// halt or pause was heard of since: no read, however many nodes this wave holds. (The
		// hint is as trustworthy as the counters it sums up, which any node may write too.)
		c.verdict, c.readAt = rollout.Verdict{Open: true, Reason: "the earlier waves reported healthy and baked"}, now
		s.mu.Unlock()
		return true
	}
	read := judge || s.due(c, now)
	s.mu.Unlock()
	if !read {
		return wake
	}
	v, err := s.judge(store, id, c, true)
	s.mu.Lock()
	c.nextRead = s.Now().Add(s.Poll)
	s.mu.Unlock()
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
		if s.OnChange != nil {
			go s.OnChange() // the status says so; nothing on disk changes, so no reconcile
		}
		return wake
	case c.Phase == PhaseWaiting:
		// Open and still waiting: ask for the reconcile that installs it (again, should the
		// one asked before have run on an older answer).
		return wake || v.Open
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

// checks tells whether the health of c is to be checked at now: until it is decided, and with
// CheckHealthy on while it is healthy, until the bake has passed since it was found healthy
// here and since the last wave opened. The caller holds s.mu.
func (s *Staging) checks(c *change, now time.Time) bool {
	switch {
	case c.Final:
		return false
	case c.Phase == PhaseChecking:
		return true
	case c.Phase != PhaseHealthy || !s.CheckHealthy:
		return false
	}
	since := c.HealthyAt
	if c.lastWaveAt.After(since) {
		since = c.lastWaveAt
	}
	return now.Before(since.Add(c.policy.Bake))
}

// checkHealth runs the health check of a change this node took and counts its outcome in the
// gate. It says whether the loop should reconcile (to say so in the node's status, or to take
// the change back), and whether the gate is to be judged now: an unhealthy report may exceed
// the budget. A report that completes the waves up to this node's hints the next wave
// (hintNextWave), healthy or not; a healthy one needs no other read.
func (s *Staging) checkHealth(ctx context.Context, store GateStore, id string, c *change) (wake, judge bool) {
	s.mu.Lock()
	p, phase, installedAt := c.policy, c.Phase, c.InstalledAt
	s.mu.Unlock()
	h, why := HealthGood, "no health check"
	if s.Health != nil {
		h, why = s.Health(ctx, c.Entry, p, installedAt)
	}
	if h == HealthPending && phase == PhaseChecking && s.Now().Sub(installedAt) >= p.HealthyDeadline {
		h, why = HealthBad, fmt.Sprintf("not healthy within healthy_deadline %s (%s)", p.HealthyDeadline, why)
	}
	switch {
	case h == HealthGood && phase == PhaseChecking:
		s.mu.Lock()
		c.Phase, c.Reason, c.Healthy, c.HealthyAt = PhaseHealthy, why, true, s.Now().UTC()
		s.save()
		s.mu.Unlock()
		s.Logger.Info("the staged change is healthy here", "machine", c.Entry, "change", id, "after", s.Now().Sub(installedAt).Round(time.Millisecond), "reason", why)
		s.add(store, id, c, gate.Healthy, 1)
		s.hintNextWave(store, id, c)
		if s.OnChange != nil {
			s.OnChange() // the status says so; nothing on disk changes, so no reconcile
		}
		return false, false
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
		s.hintNextWave(store, id, c) // within the budget, the last report of a wave may be this one
		return true, true
	}
	return false, false
}

// hintNextWave writes, when this node's health report completed every wave up to its own, the
// moment the next wave may open (the last report plus the bake), so that its nodes look then;
// when that wave is empty, the wave after it too, and so on. Nothing is hinted once the
// failure budget is exceeded: the gate halts instead.
func (s *Staging) hintNextWave(store GateStore, id string, c *change) {
	s.mu.Lock()
	wave, waves, bake := c.Wave, c.Waves, c.policy.Bake
	budget := rollout.Gate{Budget: c.policy.MaxUnhealthy}
	s.mu.Unlock()
	if wave+1 >= waves {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	tally, err := store.Tally(ctx, id)
	if err != nil {
		// The next wave's nodes find out on their own poll, a rollout_poll later at most.
		s.Logger.Warn("could not read the rollout gate to tell the next wave when it may start", "machine", c.Entry, "change", id, "error", err)
		return
	}
	if over, _ := budget.Exceeded(tally); over {
		return
	}
	var last time.Time
	for j := 0; j <= wave; j++ {
		w := tally.Wave(j)
		if w.Members > w.Healthy+w.Unhealthy {
			return // not complete yet: the node completing it says so
		}
		if w.HealthChanged.After(last) {
			last = w.HealthChanged
		}
	}
	// The next wave, and each after an empty one (which nobody completes), may open then.
	// (The reports that complete a wave come together, and each reporter's read may come
	// after the last of them: the gate writes a moment once, however many nodes hint it.)
	at := last.Add(bake)
	for next := wave + 1; next < waves; next++ {
		if err := store.Put(ctx, gate.Control{Action: gate.ActionReady, Change: id, Entry: c.Entry, Wave: next + 1, By: s.Identity, At: at}, nil); err != nil {
			s.Logger.Warn("could not tell the next wave when it may start", "machine", c.Entry, "change", id, "wave", next+1, "error", err)
			return
		}
		if tally.Wave(next).Members > 0 {
			return
		}
	}
}

// byHint tells whether a ready hint opens c's wave now: its moment came, the gate was read
// since this node began to track c (a pause written before the watch started is known), and
// since every halt or pause this node heard of, and said neither. Otherwise the gate is read
// then. The caller holds s.mu.
func byHint(c *change, now time.Time) bool {
	return !c.readyAt.IsZero() && !now.Before(c.readyAt) && c.read && !c.verdict.Halted && !c.verdict.Paused && !c.verdict.Open
}
