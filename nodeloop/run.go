package nodeloop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/mms-io/mms/internal/backoff"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// Waits between attempts to take hold of the machines directory (another mms process holds
// it, or its state is unreadable).
const (
	storeMinBackoff = time.Second
	storeMaxBackoff = 30 * time.Second
)

// runner is one Run of a Loop. Every field is owned by the Run goroutine; a reconcile runs in
// a goroutine of its own (a flight) so that the loop keeps receiving while it runs.
type runner struct {
	l        *Loop
	cfg      machines.Config
	log      *slog.Logger
	interval time.Duration

	// store holds the machines directory from the first successful open until Run ends.
	store      *install.Store
	storeErr   error
	storeTries int
	storeRetry *time.Timer

	pending  map[Trigger]bool // triggers waiting for the next pass
	latest   *Update          // the newest update from the source
	refused  bool             // latest was reconciled and refused as a whole
	accepted *Update          // the newest update a reconcile accepted
	flight   *flight          // the reconcile in progress
	verified time.Time        // when every file was last re-hashed

	skipsSpec string          // the payload digest skipsSaid is for
	skipsSaid map[string]bool // the entries said to be skipped on this node
}

// flight is a reconcile in progress.
type flight struct {
	ctx        context.Context
	update     *Update
	triggers   []Trigger
	fallback   bool
	fullVerify bool
	started    time.Time
	cancel     context.CancelFunc
	preempted  bool
	done       chan *machines.Report
}

func (r *runner) run(ctx context.Context) {
	// Logged once the directory is held (or the attempt failed, which openStore says).
	r.openStore()
	defer r.closeStore()
	r.log.Info("node loop starting", "dir", r.cfg.Dir, "interval", r.interval, "purge", r.cfg.Purge, "held", r.store != nil)
	// The start reconcile runs at once, on what the source holds now if it can say.
	if c, ok := r.l.Source.(Current); ok {
		u := c.Current()
		r.latest = &u
	}
	r.pending[TriggerStart] = true

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := r.l.Source.Run(sctx)
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	var staged <-chan struct{}
	if st := r.l.Staging; st != nil {
		staged = st.Wake()
		go st.Run(sctx)
	}

	for {
		var done chan *machines.Report
		if r.flight != nil {
			done = r.flight.done
		}
		var retry <-chan time.Time
		if r.storeRetry != nil {
			retry = r.storeRetry.C
		}
		select {
		case <-ctx.Done():
			if f := r.flight; f != nil {
				f.cancel()
				r.finish(<-f.done)
			}
			r.log.Info("node loop stopping", "reason", context.Cause(ctx))
			return
		case u, ok := <-updates:
			if !ok {
				updates = nil // the source ends only with ctx
				continue
			}
			r.receive(u)
		case <-tick.C:
			r.pending[TriggerInterval] = true
		case <-r.l.Wake:
			r.pending[TriggerState] = true
			if st := r.l.Staging; st != nil {
				st.Look() // a machine's state is its health
			}
		case <-staged:
			r.pending[TriggerRollout] = true
		case rep := <-done:
			r.finish(rep)
		case <-retry:
			r.storeRetry = nil
			if r.openStore() {
				r.pending[TriggerInterval] = true
			}
		}
		if r.flight == nil && len(r.pending) > 0 {
			r.pass(ctx)
		}
	}
}

// receive takes a new update from the source, and lets it pre-empt the reconcile in progress
// when it is a different specification.
func (r *runner) receive(u Update) {
	if l := r.latest; l != nil && l.Revision == u.Revision && bytes.Equal(l.Envelope, u.Envelope) && (l.Err == nil) == (u.Err == nil) {
		return
	}
	switch {
	case u.Err != nil:
		r.log.Error("the source holds something that is not a specification: nothing changes", "revision", u.Revision, "error", u.Err)
	case u.Envelope == nil:
		r.log.Warn("specification deleted: nothing is purged, machines stay as they are until a new specification arrives", "revision", u.Revision)
	default:
		r.log.Info("specification received", "revision", u.Revision)
	}
	r.latest, r.refused = &u, false
	r.pending[TriggerSpecification] = true

	if f := r.flight; f != nil && !f.preempted && u.Envelope != nil && u.Err == nil && !bytes.Equal(f.update.Envelope, u.Envelope) {
		r.log.Info("a newer specification pre-empts the reconcile in progress: its downloads are cancelled", "revision", u.Revision, "was", f.update.Revision)
		f.preempted = true
		f.cancel()
	}
}

// order is the order triggers are reported in.
var order = []Trigger{TriggerStart, TriggerSpecification, TriggerState, TriggerRollout, TriggerInterval, TriggerFallback}

// takeTriggers returns and clears the pending triggers, in order.
func (r *runner) takeTriggers() []Trigger {
	var out []Trigger
	for _, t := range order {
		if r.pending[t] {
			out = append(out, t)
		}
	}
	clear(r.pending)
	return out
}

// pass answers the pending triggers: a reconcile (started in a flight), or an outcome that says
// there is nothing to reconcile against.
func (r *runner) pass(ctx context.Context) {
	started := time.Now()
	triggers := r.takeTriggers()
	if active := r.l.Active; active != nil {
		if ok, why := active(); !ok {
			r.log.Debug(fmt.Sprintf("Not reconciling %s (triggered by %v)", why, triggers))
			return
		}
	}
	out := Outcome{Triggers: triggers, Source: r.l.Source.Name()}

	target, fallback := r.target(triggers)
	if target == nil {
		if u := r.latest; u != nil {
			out.Revision, out.Created, out.SourceErr = u.Revision, u.Created, u.Err
		}
		out.Missing = out.SourceErr == nil
		if out.Missing {
			r.log.Debug("no specification yet: nothing to verify")
		}
		out.Took = time.Since(started)
		r.notify(out)
		return
	}
	if fallback {
		triggers = append(triggers, TriggerFallback)
	}

	cfg := r.cfg
	if r.store == nil {
		r.refuse(triggers, target, started, fmt.Errorf("hold the machines directory %s: %w", cfg.Dir, r.storeErr))
		return
	}
	if r.l.Prepare != nil {
		if err := r.l.Prepare(&cfg); err != nil {
			r.refuse(triggers, target, started, err)
			return
		}
	}
	cfg.FullVerify = cfg.FullVerify || r.l.FullVerifyInterval > 0 && (r.verified.IsZero() || started.Sub(r.verified) >= r.l.FullVerifyInterval)

	fctx, cancel := context.WithCancel(ctx)
	f := &flight{ctx: ctx, update: target, triggers: triggers, fallback: fallback, fullVerify: cfg.FullVerify, started: started, cancel: cancel, done: make(chan *machines.Report, 1)}
	r.flight = f
	st := r.store
	go func() { f.done <- machines.ReconcileStore(fctx, cfg, st, target.Envelope) }()
}

// target chooses what to reconcile: the newest specification, or the last accepted one when
// the newest is refused or gone and no new one asked (fallback); nil when there is neither.
func (r *runner) target(triggers []Trigger) (u *Update, fallback bool) {
	asked := false
	for _, t := range triggers {
		asked = asked || t == TriggerStart || t == TriggerSpecification
	}
	latest := r.latest
	usable := latest != nil && latest.Envelope != nil && latest.Err == nil
	switch {
	case usable && (asked || !r.refused || r.accepted == nil):
		return latest, false
	case r.accepted != nil && !asked:
		return r.accepted, true
	}
	return nil, false
}

// refuse reports a pass that could not reconcile target at all.
func (r *runner) refuse(triggers []Trigger, target *Update, started time.Time, err error) {
	rep := &machines.Report{Started: started, Err: err, Duration: time.Since(started)}
	out := Outcome{Triggers: triggers, Source: r.l.Source.Name(), Revision: target.Revision, Created: target.Created, Report: rep, Took: rep.Duration, NodeErr: err}
	r.logOutcome(out)
	r.notify(out)
}

// finish ends the flight in progress with its report.
func (r *runner) finish(rep *machines.Report) {
	f := r.flight
	r.flight = nil
	f.cancel()
	out := Outcome{
		Triggers: f.triggers, Source: r.l.Source.Name(), Revision: f.update.Revision, Created: f.update.Created,
		Report: rep, Preempted: f.preempted, Took: time.Since(f.started),
	}
	if out.Accepted() {
		r.accepted = f.update
		if f.fullVerify && !f.preempted {
			r.verified = f.started
		}
	} else if f.update == r.latest {
		r.refused = true
		if r.accepted == nil && rep.Err != nil && f.ctx.Err() == nil {
			r.accepted = r.recoverAccepted(f.ctx)
		}
	}
	r.logOutcome(out)
	r.notify(out)
}

// historyTimeout bounds the look through the source's kept revisions.
const historyTimeout = 10 * time.Second

// recoverAccepted finds, among the revisions the source keeps, the specification the machines
// directory's record says was accepted last (by its payload's digest), so that the interval
// keeps repairing what it installed while the newest is refused, also after a restart. Nil
// when the source keeps no history or no longer keeps that revision.
func (r *runner) recoverAccepted(ctx context.Context) *Update {
	h, ok := r.l.Source.(History)
	if !ok || r.store == nil {
		return nil
	}
	last := r.store.Accepted()
	if last == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	revisions, err := h.History(ctx)
	if err != nil {
		r.log.Warn("could not look for the last accepted specification among the kept revisions", "error", err)
		return nil
	}
	for i := range revisions {
		env, err := spec.DecodeEnvelope(revisions[i].Envelope)
		if err != nil {
			continue
		}
		if sum := sha256.Sum256(env.Payload); hex.EncodeToString(sum[:]) == last.Digest {
			r.log.Info("the newest specification is refused: repairing what the last accepted one installed, found among the kept revisions", "revision", revisions[i].Revision, "version", last.Version)
			return &revisions[i]
		}
	}
	r.log.Warn("the newest specification is refused, and the last accepted one is no longer kept: nothing is repaired until a specification is accepted", "version", last.Version)
	return nil
}

// notify tells every observer, in order, after the staged-rollout controller (so that what
// they report includes where each staged change stands).
func (r *runner) notify(o Outcome) {
	if st := r.l.Staging; st != nil {
		st.Observe(o)
	}
	for _, obs := range r.l.Observers {
		obs.Observe(o)
	}
}

// logOutcome writes one line for a reconcile; the core has written one per action.
func (r *runner) logOutcome(o Outcome) {
	rep := o.Report
	log := r.log.With("revision", o.Revision, "triggers", fmt.Sprint(o.Triggers))
	changed, failed := 0, 0
	for _, res := range rep.Results {
		if res.Changed() {
			changed++
		}
		if res.Failed() {
			failed++
		}
	}
	switch {
	case rep.Err != nil:
		log.Error("specification refused, nothing changed", "error", rep.Err, "duration", rep.Duration)
		return
	case o.Preempted:
		log.Info("reconcile pre-empted by a newer specification", "changed", changed, "failed", failed, "duration", rep.Duration)
	case failed > 0:
		log.Error("reconciled with failures", "version", rep.Version, "entries", len(rep.Results), "changed", changed, "failed", failed, "duration", rep.Duration)
	case changed > 0 || o.Has(TriggerSpecification) || o.Has(TriggerStart):
		log.Info("reconciled", "version", rep.Version, "signed", rep.Signed, "entries", len(rep.Results), "changed", changed, "duration", rep.Duration)
	default:
		log.Debug("verified, nothing to change", "entries", len(rep.Results), "duration", rep.Duration)
	}
	fresh := o.Has(TriggerSpecification) || o.Has(TriggerStart)
	if !rep.Signed && len(r.cfg.Trust.Keys) == 0 && fresh {
		log.Warn(UnsignedWarning)
	}
	if len(rep.Unknown) > 0 && fresh {
		log.Warn("the specification has fields this node does not know, ignored", "fields", fmt.Sprint(rep.Unknown))
	}
	r.saySkips(o)
}

// saySkips says, once per specification and entry, at info, that an entry is not for this
// node: the first answer to "why does this node do nothing?". The core logs every skip at
// debug besides.
func (r *runner) saySkips(o Outcome) {
	if o.Report.Digest != r.skipsSpec || r.skipsSaid == nil {
		r.skipsSpec, r.skipsSaid = o.Report.Digest, map[string]bool{}
	}
	for _, res := range o.Report.Results {
		if res.Action != machines.ActionSkip || r.skipsSaid[res.Name] {
			continue
		}
		r.skipsSaid[res.Name] = true
		r.log.Info("not for this node: its matcher is false here, so it is not installed", "machine", res.Name, "identity", r.cfg.Node.Identity, "version", o.Report.Version)
	}
}

// UnsignedWarning is what a node says of every specification it accepted unsigned, with no
// trusted key configured.
const UnsignedWarning = "accepted an unsigned specification: no trusted key is configured " +
	"(set plugin.choria.machine.signing_key, compile one in, or set the public_key property; for mms agent, --public-key)"

// openStore takes hold of the machines directory, cleaning what a crash left there; on failure
// it says so and schedules another attempt with backoff. It tells whether the store is held.
func (r *runner) openStore() bool {
	if r.l.Store != nil {
		r.store = r.l.Store
		return true
	}
	st, err := install.Open(r.cfg.Dir)
	if err != nil {
		r.storeErr = err
		wait := backoff.Jittered(r.storeTries, storeMinBackoff, storeMaxBackoff)
		r.storeTries++
		r.storeRetry = time.NewTimer(wait)
		r.log.Error("cannot hold the machines directory: nothing is reconciled until it can", "dir", r.cfg.Dir, "error", err, "retry_in", wait.Round(time.Millisecond))
		return false
	}
	r.store, r.storeErr, r.storeTries = st, nil, 0
	for _, c := range st.Cleaned() {
		r.log.Info("removed what an interrupted install left behind", "path", c)
	}
	return true
}

// closeStore releases the machines directory, writing what the record still holds.
func (r *runner) closeStore() {
	if r.storeRetry != nil {
		r.storeRetry.Stop()
	}
	if r.store == nil || r.store == r.l.Store {
		return
	}
	if err := r.store.Close(); err != nil {
		r.log.Error("could not write the record of what mms manages", "dir", r.cfg.Dir, "error", err)
	}
	r.store = nil
}
