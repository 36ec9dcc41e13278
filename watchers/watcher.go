package watchers

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/choria-io/go-choria/aagent/model"
	"github.com/choria-io/go-choria/aagent/watchers/event"
	"github.com/choria-io/go-choria/aagent/watchers/watcher"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/internal/buildinfo"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/nodeloop"
)

// Watcher is the `machines` watcher: it runs the node loop (package nodeloop) for its
// machines directory, with the machine's facts, states and connection, and tells Choria what
// each reconcile did.
type Watcher struct {
	*watcher.Watcher

	machine   model.Machine
	name      string
	required  []model.ForeignMachineState
	settings  *Settings
	interval  time.Duration
	keys      []ed25519.PublicKey
	keySource KeySource
	// keeper holds the keyring the watcher trusts; nil without keyring_roots.
	keeper *keyring.Keeper
	// staging is the node loop's staged-rollout controller, made when Run starts.
	staging *nodeloop.Staging

	terminate chan struct{}
	stopOnce  sync.Once

	mu    sync.Mutex
	state *StateNotification
}

// New creates a `machines` watcher with go-choria v0.30's watcher constructor signature.
// required lists the states of other machines (a machine.yaml's foreign_state_required) that
// must all hold, besides states, before the watcher reconciles; the framework checks both.
func New(machine model.Machine, name string, states []string, required []model.ForeignMachineState, failEvent, successEvent, interval string, ai time.Duration, rawprop map[string]any) (any, error) {
	return newWatcher(machine, name, states, required, failEvent, successEvent, interval, ai, rawprop)
}

// newWatcher is New returning the concrete type.
func newWatcher(machine model.Machine, name string, states []string, required []model.ForeignMachineState, failEvent, successEvent, interval string, ai time.Duration, rawprop map[string]any) (*Watcher, error) {
	base, err := watcher.NewWatcher(name, WatcherType, ai, states, required, machine, failEvent, successEvent)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}

	w := &Watcher{
		Watcher:   base,
		machine:   machine,
		name:      name,
		required:  required,
		terminate: make(chan struct{}),
	}

	w.settings, err = ParseProperties(rawprop, machine.Directory())
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}
	w.interval, err = ParseInterval(interval)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}
	w.settings.Node.Interval = w.interval
	w.keys, w.keySource, err = TrustedKeys(machine.SignerKey(), PublicKey, w.settings.PublicKeys)
	if err != nil {
		return nil, fmt.Errorf("machines watcher %q: %w", name, err)
	}
	if a := w.settings.Keyring; !a.IsZero() {
		js := func() (jetstream.JetStream, error) {
			js, _, err := w.tryJetStream()
			return js, err
		}
		fetch := nodeloop.KeyringFetcher(js, w.settings.Bucket, w.settings.Key)
		w.keeper = nodeloop.NewKeeper(w.settings.MachinesDirectory, a, fetch, nodeloop.KeyringWhere(w.settings.Bucket, w.settings.Key), newMachineLogger(w))
	}
	return w, nil
}

// Delete stops the watcher; the machine calls it when it is removed.
func (w *Watcher) Delete() {
	w.stopOnce.Do(func() { close(w.terminate) })
}

// Run runs the node loop until ctx ends or the watcher is deleted: it reconciles the first
// specification, every new one, every interval tick and every state change, while the machine
// is in one of the watcher's states (and the foreign states it requires hold).
func (w *Watcher) Run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.terminate:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer w.CancelGovernor()

	for _, legacy := range w.settings.Legacy {
		w.Warnf("Ignoring the go-choria v0.29.4 property %s, which this watcher does not use", legacy)
	}
	source := w.source()
	w.Infof("machines watcher starting: specification from %s, machines in %s, trusted keys: %s", source.Name(), w.settings.MachinesDirectory, w.keySource)
	if w.keeper != nil {
		w.Infof("Trusting the keyring at %s: %d root key(s), %d of them to sign the first keyring taken", w.keeper.Where, len(w.keeper.Anchor.Roots), w.keeper.Anchor.Threshold)
	}
	if w.keySource == KeySourceNone && w.keeper == nil {
		w.Warnf("No trusted key is configured: unsigned specifications will be accepted")
	}

	log := newMachineLogger(w)
	cfg := w.coreConfig()
	w.staging = nodeloop.NewStaging(cfg, w.machine.Identity(), nodeloop.StateHealth(w.machineState, choriaLoadSettle),
		fleet.FreshFor(w.settings.StatusHeartbeat), w.settings.Node.RolloutPoll)
	w.staging.CheckHealthy = true // a machine may enter one of its failed_states at any time
	loop := &nodeloop.Loop{
		Config:             cfg,
		Staging:            w.staging,
		Source:             source,
		Interval:           w.interval,
		FullVerifyInterval: w.settings.Node.FullVerifyInterval,
		Prepare:            w.prepare,
		Active:             w.active,
		Wake:               w.StateChangeC(),
		// The last report is saved before Choria is told, so that mms status agrees with
		// the notification an operator just saw.
		Observers: []nodeloop.Observer{
			nodeloop.LastReportObserver{Dir: w.settings.MachinesDirectory, Logger: log},
			nodeloop.ObserverFunc(w.observe),
		},
	}
	if pub := w.statusPublisher(ctx, log); pub != nil {
		loop.Observers = append(loop.Observers, pub)
		w.staging.OnChange = pub.Changed
	}
	loop.Run(ctx)
}

// choriaLoadSettle is how long after an install the watcher takes the machine's state for the
// new version's: Choria's loader looks for changed machines every 10 seconds.
const choriaLoadSettle = 11 * time.Second

// machineState is the current state of the Choria machine called name, "" when Choria runs
// no such machine.
func (w *Watcher) machineState(name string) string {
	state, err := w.machine.LookupExternalMachineState(name)
	if err != nil {
		return ""
	}
	return state
}

// statusPublisher starts publishing this node's fleet status over the machine's JetStream
// connection, once Choria has set it up, and returns the observer that feeds it; nil when
// the status_bucket property is empty.
func (w *Watcher) statusPublisher(ctx context.Context, log *slog.Logger) *fleet.Publisher {
	if w.settings.StatusBucket == "" {
		return nil
	}
	reporter := &fleet.Reporter{Identity: w.machine.Identity(), Host: "choria", Version: buildinfo.ModuleVersion(buildinfo.MMSModule),
		Dir: w.settings.MachinesDirectory, Heartbeat: w.settings.StatusHeartbeat, State: w.machineState, Rollout: w.staging.Status}
	pub := fleet.NewPublisher(w.settings.StatusBucket, reporter, log)
	go func() {
		js, _, err := w.jetStream(ctx, "publish this node's status to "+w.settings.StatusBucket)
		if err != nil {
			return // ctx ended
		}
		pub.Run(ctx, js)
	}()
	return pub
}

// active tells the loop whether the machine is in one of the watcher's states and the foreign
// states it requires hold, and when not, why.
func (w *Watcher) active() (bool, string) {
	if w.ShouldWatch() {
		return true, ""
	}
	return false, "in state " + w.machine.State() + w.requiredStates()
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
		Outcome:         SummaryNone,
		Source:          w.sourceName(),
		KeySource:       w.keySource,
		Outcomes:        []MachineOutcome{},
		Machines:        []string{},
		PreviousOutcome: string(SummaryNone),
	}
}

// sourceName says where the specification comes from: its source's name.
func (w *Watcher) sourceName() string { return w.source().Name() }
