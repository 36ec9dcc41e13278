package nodeloop

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// Defaults of a node's staged rollouts.
const (
	// DefaultRolloutPoll is how often a node with a change in flight reads its gate (and runs
	// its health check): two batched reads, whatever the fleet size.
	DefaultRolloutPoll = 5 * time.Second
	// gateTimeout bounds one read or write of the gate.
	gateTimeout = 5 * time.Second
)

// GateStore is the part of gate.Store the controller uses; the host gives one once it has a
// JetStream connection.
type GateStore interface {
	Add(ctx context.Context, change string, wave int, k gate.Kind, delta int, by string) error
	Tally(ctx context.Context, change string) (rollout.Tally, error)
	Controls(ctx context.Context, change string, keys []ed25519.PublicKey) (rollout.Controls, []string, error)
	Put(ctx context.Context, c gate.Control, key ed25519.PrivateKey) error
	Watch(ctx context.Context) (<-chan gate.Event, error)
}

// Phase is where one change stands on this node.
type Phase string

// The phases of a change on a node.
const (
	// PhaseWaiting: the gate does not admit it here yet.
	PhaseWaiting Phase = "waiting"
	// PhaseChecking: installed, its health not decided yet.
	PhaseChecking Phase = "checking"
	// PhaseHealthy: installed and healthy.
	PhaseHealthy Phase = "healthy"
	// PhaseUnhealthy: installed and unhealthy, to be reverted.
	PhaseUnhealthy Phase = "unhealthy"
	// PhaseReverted: taken back; the node stays on the previous version.
	PhaseReverted Phase = "reverted"
	// PhaseHalted: the change halted before this node took it; it never will.
	PhaseHalted Phase = "halted"
)

// Staging is a node's staged-rollout controller: the machines.Rollout the reconcile asks, and
// (Run) the watch over the gate and over the health of the changes this node took, which
// wakes the loop when its answer changes. Set its fields, then give it to Loop.Staging.
type Staging struct {
	// Identity is the node's identity, which draws its wave.
	Identity string
	// Keys are the trusted keys a resume or promotion must be signed by.
	Keys []ed25519.PublicKey
	// Keyring, when set, is the keyring the node trusts: a resume or promotion may then also
	// be signed by one of its unexpired signers whose scope covers the entry, and must be
	// signed even when the node trusts no bare key.
	Keyring KeyringHolder
	// Health checks a machine this node installed; nil takes every install for healthy.
	Health HealthFunc
	// CheckHealthy says whether the health of a change found healthy is checked again, every
	// second, while the rollout is still on: a Choria machine may enter one of its
	// failed_states at any time, which is unhealthy at once. It is checked until the bake has
	// passed since it was found healthy here and since the last wave opened (as far as this
	// node heard: a restart forgets the last wave's hint); a failure after that is the
	// machine's own, and takes nothing back. Without CheckHealthy a change's health is decided
	// once: a health_command that passed and fails later only says "not yet", which counts
	// for nothing once healthy, so it is not run again.
	CheckHealthy bool
	// Quiet is how long a wave's counters must stay unchanged before its silent nodes are
	// taken for offline: the fleet status's freshness.
	Quiet time.Duration
	// Poll is how often the gate is read while a change is in flight; 0 means
	// DefaultRolloutPoll.
	Poll time.Duration
	// Marks, when set, remembers what this node told the gate, across restarts (DIR/.mms):
	// a node counts itself once per change.
	Marks *Marks
	// OnChange, when set, is told when a change's phase moves between reconciles (it became
	// healthy): the fleet status publisher publishes again (fleet.Publisher.Changed).
	OnChange func()
	// Logger receives what the controller decides.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	store    GateStore
	storeErr string
	watching bool                // the controls' watch runs
	retry    jetstream.JetStream // to open the gate again over, when it could not be
	retryAt  time.Time
	changes  map[string]*change // by gate.ChangeID
	wake     chan struct{}      // to the loop: reconcile
	kick     chan struct{}      // to the watch: look now
}

// change is one entry's change as this node sees it.
type change struct {
	Mark
	policy  rollout.Policy
	verdict rollout.Verdict
	readAt  time.Time // when the gate was last read for it; zero to read it at once
	// read says the gate was read for it since this node began to track it (readAt may be
	// set without a read: a wave just seen, a halt or pause heard). The watch hears only
	// what is written after it starts: until a read, a pause written before is unknown here.
	read bool
	// nextRead is when a waiting node reads its gate next: a poll on, or the moment a ready
	// hint names.
	nextRead time.Time
	// readyAt is when a ready hint says this node's wave opens; zero without one.
	readyAt time.Time
	// lastWaveAt is when a ready hint says the last wave opens; zero without one.
	lastWaveAt time.Time
	// settled says the health of this healthy change is no longer checked (CheckHealthy).
	settled bool
	unsent  []unsent // additions to send again
	revert  string   // why to take it back, when it must be
}

// SetGate gives the controller the gate (the host's JetStream connection is up), or the
// reason there is none: until there is, no change with a rollout policy is installed.
func (s *Staging) SetGate(g GateStore, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store, s.storeErr = g, why
}

func (s *Staging) init() {
	if s.changes != nil {
		return
	}
	s.changes, s.wake, s.kick = map[string]*change{}, make(chan struct{}, 1), make(chan struct{}, 1)
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Poll <= 0 {
		s.Poll = DefaultRolloutPoll
	}
	if s.Marks != nil {
		for id, m := range s.Marks.Load(s.Logger) {
			c := &change{Mark: m}
			if m.Phase == PhaseUnhealthy {
				c.revert = "unhealthy: " + m.Reason // the revert a restart interrupted
			}
			s.changes[id] = c
		}
	}
}

// Wake is told whenever the controller's answer may have changed: the loop reconciles.
func (s *Staging) Wake() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	return s.wake
}

// Look asks the watch to look at every change in flight now: the host saw something change
// (a Choria machine entered a state), so that entering a failed state is unhealthy at once.
func (s *Staging) Look() {
	s.mu.Lock()
	s.init()
	s.mu.Unlock()
	s.look()
}

// look asks the watch to look now, once init made its channel (which never changes after).
func (s *Staging) look() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Staging) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// track returns the change e brings, creating it (with this node's wave) the first time.
// The caller holds s.mu.
func (s *Staging) track(e spec.Entry) *change {
	s.init()
	id := gate.ChangeID(e.Name, e.Checksum)
	c, ok := s.changes[id]
	if !ok {
		c = &change{Mark: Mark{Entry: e.Name, Checksum: e.Checksum, Wave: e.Rollout.Waves.WaveOf(s.Identity, e.Name, e.Checksum),
			Waves: len(e.Rollout.Waves), Seen: s.Now().UTC(), Phase: PhaseWaiting}}
		s.changes[id] = c
		s.supersede(e.Name, id)
		s.Logger.Info("a staged change: this node draws its wave", "machine", e.Name, "wave", c.Wave+1, "waves", c.Waves,
			"checksum", short(e.Checksum), "change", id, "policy", e.Rollout.Summary())
	}
	if c.Phase == "" {
		c.Phase = PhaseWaiting
	}
	c.policy = *e.Rollout
	return c
}

// supersede ends the watch over the earlier changes of entry: only the newest is checked and
// counted (its health check looks at what is installed now). The caller holds s.mu.
func (s *Staging) supersede(entry, newest string) {
	for id, c := range s.changes {
		if id != newest && c.Entry == entry && !c.Final {
			c.Final = true
		}
	}
}

// Admit implements machines.Rollout: it registers the node in its wave the first time, and
// answers from the gate read at most Poll ago (reading it now when older).
func (s *Staging) Admit(e spec.Entry, installed string) (bool, string) {
	s.mu.Lock()
	c := s.track(e)
	id := gate.ChangeID(e.Name, e.Checksum)
	switch c.Phase {
	case PhaseReverted, PhaseHalted, PhaseUnhealthy:
		why := c.Reason
		s.mu.Unlock()
		return false, fmt.Sprintf("%s here: %s; stays as it is until a new specification changes %s", c.Phase, why, e.Name)
	}
	s.mu.Unlock()
	s.retryGate()
	s.mu.Lock()
	store, storeErr := s.store, s.storeErr
	s.mu.Unlock()
	if store == nil {
		return false, "waits: the rollout gate cannot be reached: " + storeErr
	}
	if err := s.register(store, id, c); err != nil {
		return false, "waits: " + err.Error()
	}
	label := fmt.Sprintf("wave %d of %d", c.Wave+1, c.Waves)
	s.mu.Lock()
	if c.Wave > 0 && c.readAt.IsZero() && c.readyAt.IsZero() {
		// Just seen: no earlier wave can be done yet. The watch reads the gate within a poll
		// (spread, so that a whole fleet does not ask in the same instant) or when told to.
		c.readAt, c.nextRead = s.Now(), s.Now().Add(rand.N(s.Poll)+time.Millisecond)
		c.verdict = rollout.Verdict{Reason: "waits for the earlier waves"}
		s.mu.Unlock()
		return false, label + ": waits for the earlier waves"
	}
	now, v := s.Now(), c.verdict
	stale := now.Sub(c.readAt) >= s.Poll || !v.Open && !v.Until.IsZero() && !now.Before(v.Until)
	s.mu.Unlock()
	v, err := s.judge(store, id, c, stale)
	if err != nil {
		return false, "waits: " + err.Error()
	}
	if !v.Open {
		return false, label + ": " + v.Reason
	}
	s.Logger.Info("the rollout gate admits the change here", "machine", e.Name, "wave", c.Wave+1, "reason", v.Reason)
	return true, ""
}

// register counts the node among its wave's members, once per change.
func (s *Staging) register(store GateStore, id string, c *change) error {
	s.mu.Lock()
	done := c.Registered
	s.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	if err := store.Add(ctx, id, c.Wave, gate.Members, 1, s.Identity); err != nil {
		return err
	}
	s.mu.Lock()
	c.Registered = true
	s.save()
	s.mu.Unlock()
	return nil
}

// judge reads the gate (when fresh is asked, or never read) and judges it for c.
func (s *Staging) judge(store GateStore, id string, c *change, fresh bool) (rollout.Verdict, error) {
	s.mu.Lock()
	v, readAt := c.verdict, c.readAt
	s.mu.Unlock()
	if !fresh && !readAt.IsZero() {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	tally, err := store.Tally(ctx, id)
	if err != nil {
		return v, err
	}
	keys, strict := s.controlKeys(c.Entry)
	ctl, refused, err := store.Controls(ctx, id, keys)
	if err != nil {
		return v, err
	}
	if strict && len(keys) == 0 && (ctl.Resumed != nil || ctl.PromotedTo > 0) {
		// The gate checks signatures against the keys it is given, and none is none to check.
		refused = append(refused, fmt.Sprintf("a resume or promotion of %s needs the signature of a trusted key or of a keyring signer for it, and this node has neither", c.Entry))
		ctl.Resumed, ctl.PromotedTo = nil, 0
	}
	for _, r := range refused {
		s.Logger.Warn("a rollout control is refused", "machine", c.Entry, "change", id, "reason", r)
	}
	s.mu.Lock()
	g := rollout.Gate{Wave: c.Wave, Bake: c.policy.Bake, Budget: c.policy.MaxUnhealthy, Quiet: s.Quiet, Seen: c.Seen}
	now := s.Now()
	v = g.Judge(tally, ctl, now)
	if ctl.Paused != nil && !c.verdict.Paused && v.Paused {
		s.Logger.Warn("the rollout is paused", "machine", c.Entry, "change", id, "by", ctl.Paused.By, "reason", ctl.Paused.Reason)
	}
	c.verdict, c.readAt, c.read = v, now, true
	over, why := g.Exceeded(tally)
	s.mu.Unlock()
	if over && ctl.Halted == nil {
		// The first node to see it says so for good: the counts could drop back under a
		// share as more nodes take the change, and a halt must not lift by itself.
		switch err := store.Put(ctx, gate.Control{Action: gate.ActionHalt, Change: id, Entry: c.Entry, By: s.Identity, Reason: why}, nil); {
		case errors.Is(err, gate.ErrHalted): // another node recorded it first
		case err != nil:
			s.Logger.Error("could not record the rollout's halt", "machine", c.Entry, "change", id, "error", err)
		default:
			s.Logger.Error("the rollout halts: no further node installs the change", "machine", c.Entry, "change", id, "reason", why)
		}
	}
	return v, nil
}

// KeyringHolder is what the staging controller reads of the keyring the node holds
// (keyring.Keeper): the version it reached, nil when none.
type KeyringHolder interface {
	Current() *keyring.Keyring
}

// controlKeys are the keys a resume or promotion of entry must be signed by: the trusted bare
// keys and, with a keyring, its unexpired signers whose scope covers entry. strict says
// whether a signature is needed at all: a node that trusts no key and no keyring takes any
// control, as it takes unsigned specifications.
func (s *Staging) controlKeys(entry string) (keys []ed25519.PublicKey, strict bool) {
	keys = append(keys, s.Keys...)
	if s.Keyring == nil {
		return keys, len(keys) > 0
	}
	now := s.Now()
	if k := s.Keyring.Current(); k != nil && k.Expired(now) == nil {
		for _, sg := range k.Signers {
			if sg.Covers(entry) && now.Before(sg.Expires) {
				keys = append(keys, sg.Key)
			}
		}
	}
	return keys, true
}

// Revert implements machines.Rollout. It is asked about a staged entry installed as its
// change says; a change this node admitted and still takes for waiting was installed by a
// run that stopped before it counted the install (killed between the swap and the count):
// it is counted now, and its health checked, rather than waited on for ever.
func (s *Staging) Revert(e spec.Entry) (bool, string) {
	s.mu.Lock()
	s.init()
	id := gate.ChangeID(e.Name, e.Checksum)
	c, ok := s.changes[id]
	if !ok {
		s.mu.Unlock()
		return false, ""
	}
	c.policy = *e.Rollout // a change remembered across a restart learns its policy here
	uncounted := c.Phase == PhaseWaiting && c.Registered && !c.Took && !c.Final
	if uncounted {
		c.Took, c.Phase, c.InstalledAt = true, PhaseChecking, s.Now().UTC()
		c.unsent = append(c.unsent, unsent{gate.Took, 1}) // the watch sends it, and checks the health
		s.save()
	}
	revert, why := c.revert != "" && c.Phase != PhaseReverted, c.revert
	s.mu.Unlock()
	if uncounted {
		s.Logger.Warn("the staged change is installed here, and was not counted (the node stopped in between): counting it now", "machine", e.Name, "change", id)
		s.look()
	}
	if !revert {
		return false, ""
	}
	return true, why
}

// save writes the marks, when the host keeps them. The caller holds s.mu.
func (s *Staging) save() {
	if s.Marks == nil {
		return
	}
	marks := make(map[string]Mark, len(s.changes))
	for id, c := range s.changes {
		marks[id] = c.Mark
	}
	if err := s.Marks.Save(marks); err != nil {
		s.Logger.Error("could not remember what this node told the rollout gate", "error", err)
	}
}

// Observe implements Observer: it counts the installs and reverts of staged changes.
func (s *Staging) Observe(o Outcome) {
	if o.Report == nil || o.Report.Err != nil {
		return
	}
	if !o.Preempted {
		s.forget(o.Report)
	}
	for _, r := range o.Report.Results {
		if r.Failed() {
			continue
		}
		switch r.Action {
		case machines.ActionInstall, machines.ActionUpdate:
			s.counted(r.Name, r.Checksum, gate.Took, func(c *change) {
				c.Took, c.Phase, c.InstalledAt = true, PhaseChecking, s.Now().UTC()
			})
			s.look() // check its health now, not a poll later
		case machines.ActionRevert:
			s.counted(r.Name, r.Checksum, gate.Reverted, func(c *change) {
				c.Reverted, c.Phase, c.Reason = true, PhaseReverted, c.revert
				s.Logger.Warn("reverted a staged change", "machine", r.Name, "reason", r.Reason)
			})
		}
	}
}

// forget ends the watch over every change the accepted report rep no longer concerns (its
// entry left the specification, its matcher is false here, or a newer change replaced it):
// nothing reads its gate again.
func (s *Staging) forget(rep *machines.Report) {
	live := map[string]bool{}
	for _, r := range rep.Results {
		if r.Action != machines.ActionSkip && r.Action != machines.ActionRemove {
			live[gate.ChangeID(r.Name, r.Checksum)] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	changed := false
	for id, c := range s.changes {
		if !c.Final && !live[id] {
			c.Final, changed = true, true
		}
	}
	if changed {
		s.save()
	}
}

// counted applies to the change of name at checksum (if staged) and counts k in the gate,
// once.
func (s *Staging) counted(name, checksum string, k gate.Kind, apply func(*change)) {
	s.mu.Lock()
	s.init()
	id := gate.ChangeID(name, checksum)
	c, ok := s.changes[id]
	if !ok {
		s.mu.Unlock()
		return
	}
	already := k == gate.Took && c.Took || k == gate.Reverted && c.Reverted
	apply(c)
	s.save()
	store := s.store
	s.mu.Unlock()
	if already || store == nil {
		return
	}
	s.add(store, id, c, k, 1)
}

// add counts in the gate; what could not be sent is sent again at the watch's next look (the
// gate counts a node's addition once, however often it is sent), so that a lost report does
// not hold the next wave back.
func (s *Staging) add(store GateStore, id string, c *change, k gate.Kind, delta int) {
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	if err := store.Add(ctx, id, c.Wave, k, delta, s.Identity); err != nil {
		s.Logger.Warn("could not tell the rollout gate; sending it again shortly", "machine", c.Entry, "change", id, "counter", k, "error", err)
		s.mu.Lock()
		c.unsent = append(c.unsent, unsent{k, delta})
		s.mu.Unlock()
	}
}

// unsent is an addition to the gate that could not be sent.
type unsent struct {
	kind  gate.Kind
	delta int
}

// resend sends again what could not be sent for c.
func (s *Staging) resend(store GateStore, id string, c *change) {
	s.mu.Lock()
	todo := c.unsent
	c.unsent = nil
	s.mu.Unlock()
	for _, u := range todo {
		s.add(store, id, c, u.kind, u.delta)
	}
}

// short abbreviates a checksum for logs.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// RolloutStatus is where a staged change stands on this node, as its fleet status says.
type RolloutStatus struct {
	// Change is the gate.ChangeID.
	Change string `json:"change"`
	// Wave is the node's wave, 1 for the first, of Waves.
	Wave  int `json:"wave"`
	Waves int `json:"waves"`
	// Phase and Reason say where it stands and why.
	Phase  Phase  `json:"phase"`
	Reason string `json:"reason,omitempty"`
}

// Status returns where the change that brings machine to checksum stands here; nil when it is
// not a staged change this node saw.
func (s *Staging) Status(machine, checksum string) *RolloutStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	id := gate.ChangeID(machine, checksum)
	c, ok := s.changes[id]
	if !ok {
		return nil
	}
	reason := c.Reason
	if c.Phase == PhaseWaiting {
		reason = c.verdict.Reason
	}
	return &RolloutStatus{Change: id, Wave: c.Wave + 1, Waves: c.Waves, Phase: c.Phase, Reason: reason}
}
