package watchers

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	"github.com/choria-io/go-choria/aagent/model"
	"github.com/choria-io/go-choria/aagent/watchers/event"
	"github.com/choria-io/go-choria/aagent/watchers/watcher"

	"github.com/mms-io/mms/machines"
)

// ReconcileFunc reconciles the machines directory against one specification envelope. The
// watcher calls it from one goroutine only, never twice at once.
type ReconcileFunc func(ctx context.Context, envelope []byte) *machines.Report

// Watcher is the `machines` watcher: it keeps the machines directory in line with the
// specification it is given.
type Watcher struct {
	*watcher.Watcher

	machine   model.Machine
	name      string
	required  []model.ForeignMachineState
	settings  *Settings
	interval  time.Duration
	keys      []ed25519.PublicKey
	keySource KeySource
	reconcile ReconcileFunc

	// wake holds at most one pending reconcile; triggers arriving while one runs coalesce.
	wake      chan struct{}
	terminate chan struct{}
	stopOnce  sync.Once

	mu       sync.Mutex
	triggers map[string]bool
	kv       kvLatest
	state    *StateNotification

	// retry remembers failed downloads across reconciles, so that a failing source is not
	// retried by every node at every interval.
	retry *machines.RetryMemory

	// lastFullVerify is when the core last re-hashed every installed file; reconcile loop only.
	lastFullVerify time.Time
}

// New creates a `machines` watcher with go-choria v0.30's watcher constructor signature.
// required lists the states of other machines (a machine.yaml's foreign_state_required) that
// must all hold, besides states, before the watcher reconciles; the framework checks both.
func New(machine model.Machine, name string, states []string, required []model.ForeignMachineState, failEvent, successEvent, interval string, ai time.Duration, rawprop map[string]any) (any, error) {
	return newWatcher(machine, name, states, required, failEvent, successEvent, interval, ai, rawprop, nil)
}

// newWatcher is New with the reconcile function given; nil wires the mms core.
func newWatcher(machine model.Machine, name string, states []string, required []model.ForeignMachineState, failEvent, successEvent, interval string, ai time.Duration, rawprop map[string]any, reconcile ReconcileFunc) (*Watcher, error) {
	base, err := watcher.NewWatcher(name, WatcherType, ai, states, required, machine, failEvent, successEvent)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}

	w := &Watcher{
		Watcher:   base,
		machine:   machine,
		name:      name,
		required:  required,
		wake:      make(chan struct{}, 1),
		terminate: make(chan struct{}),
		triggers:  map[string]bool{},
		retry:     machines.NewRetryMemory(machines.RetryPolicy{}),
	}

	w.interval, err = ParseInterval(interval)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}
	w.settings, err = ParseProperties(rawprop, machine.Directory())
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}
	w.keys, w.keySource, err = TrustedKeys(machine.SignerKey(), PublicKey, w.settings.PublicKeys)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}

	w.reconcile = reconcile
	if w.reconcile == nil {
		w.reconcile = w.coreReconcile
	}

	return w, nil
}

// Delete stops the watcher; the machine calls it when it is removed.
func (w *Watcher) Delete() {
	w.stopOnce.Do(func() { close(w.terminate) })
}

// Run reconciles on start, on every new specification, on every interval tick and on entering
// a matching state, until ctx ends or the watcher is deleted.
func (w *Watcher) Run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	for _, legacy := range w.settings.Legacy {
		w.Warnf("Ignoring the go-choria v0.29.4 property %s, which this watcher does not use", legacy)
	}
	if w.settings.DataItem != "" {
		w.Infof("machines watcher starting: specification from data item %q, machines in %s, trusted keys: %s", w.settings.DataItem, w.settings.MachinesDirectory, w.keySource)
		seen, _, seenErr := w.envelope()
		wg.Add(1)
		go w.watchDataItem(ctx, wg, seen, seenErr)
	} else {
		w.Infof("machines watcher starting: specification from KV %s/%s, machines in %s, trusted keys: %s", w.settings.Bucket, w.settings.Key, w.settings.MachinesDirectory, w.keySource)
		wg.Add(1)
		go w.watchKey(ctx, wg)
	}
	if w.keySource == KeySourceNone {
		w.Warnf("No trusted key is configured: unsigned specifications will be accepted")
	}

	w.loop(ctx, time.NewTicker(w.interval))
}

// loop is the one goroutine that reconciles.
func (w *Watcher) loop(ctx context.Context, tick *time.Ticker) {
	defer tick.Stop()

	w.poke(TriggerStart)
	for {
		select {
		case <-ctx.Done():
			w.CancelGovernor()
			return
		case <-w.terminate:
			w.CancelGovernor()
			return
		case <-tick.C:
			w.poke(TriggerInterval)
		case <-w.StateChangeC():
			w.poke(TriggerState)
		case <-w.wake:
			// Fold in whatever else is waiting, so that one reconcile answers them all.
			w.drain(tick)
			w.runOnce(ctx, w.takeTriggers())
		}
	}
}

// Triggers name what started a reconcile.
const (
	// TriggerStart is the watcher starting.
	TriggerStart = "start"
	// TriggerSpecification is a new specification (or its deletion) arriving.
	TriggerSpecification = "specification"
	// TriggerInterval is the interval tick.
	TriggerInterval = "interval"
	// TriggerState is the machine changing state.
	TriggerState = "state"
)

// poke asks for a reconcile; requests made while one is pending or running coalesce.
func (w *Watcher) poke(trigger string) {
	w.mu.Lock()
	w.triggers[trigger] = true
	w.mu.Unlock()

	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// drain records the triggers that are waiting on the tick and state channels.
func (w *Watcher) drain(tick *time.Ticker) {
	for {
		select {
		case <-tick.C:
			w.mu.Lock()
			w.triggers[TriggerInterval] = true
			w.mu.Unlock()
		case <-w.StateChangeC():
			w.mu.Lock()
			w.triggers[TriggerState] = true
			w.mu.Unlock()
		default:
			return
		}
	}
}

// takeTriggers returns and clears the pending triggers, in a fixed order.
func (w *Watcher) takeTriggers() []string {
	w.mu.Lock()
	defer w.mu.Unlock()

	var out []string
	for _, t := range []string{TriggerStart, TriggerSpecification, TriggerState, TriggerInterval} {
		if w.triggers[t] {
			out = append(out, t)
		}
	}
	clear(w.triggers)
	return out
}

// CurrentState returns the outcome of the last reconcile as a *StateNotification.
func (w *Watcher) CurrentState() any {
	w.mu.Lock()
	defer w.mu.Unlock()

	if w.state != nil {
		s := *w.state
		return &s
	}
	return &StateNotification{
		Event:           event.New(w.name, WatcherType, NotificationVersion, w.machine),
		Outcome:         OutcomeNone,
		Source:          w.sourceName(),
		KeySource:       w.keySource,
		Outcomes:        []MachineOutcome{},
		Machines:        []string{},
		PreviousOutcome: string(OutcomeNone),
	}
}

// sourceName says where the specification comes from.
func (w *Watcher) sourceName() string {
	if w.settings.DataItem != "" {
		return "data item " + w.settings.DataItem
	}
	return "kv " + w.settings.Bucket + "/" + w.settings.Key
}
