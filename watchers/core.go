package watchers

import (
	"context"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// coreConfig builds the core's configuration from the watcher's settings; prepare completes
// it before each reconcile.
func (w *Watcher) coreConfig() machines.Config {
	cfg := machines.Config{
		Dir: w.settings.MachinesDirectory,
		// With no key the watcher acts on unsigned specifications, as go-choria v0.29.4 did,
		// and every notification says so.
		Trust:           spec.Trust{Keys: w.keys, InsecureAllowUnsigned: len(w.keys) == 0 && w.keeper == nil},
		Governor:        w.governor(),
		GovernorTimeout: w.settings.GovernorTimeout,
		Logger:          newMachineLogger(w),
		RaiseHint:       PropertyHint,
	}
	if w.keeper != nil {
		cfg.Keyring = w.keeper
	}
	cfg.Fetch.Logger = cfg.Logger
	w.settings.Node.Apply(&cfg)
	return cfg
}

// prepare gives the reconcile the node as Choria sees it now: its identity and facts, which
// change while the machine runs.
func (w *Watcher) prepare(cfg *machines.Config) error {
	n, err := match.NewNode(w.machine.Identity(), w.machine.Facts(), "")
	if err != nil {
		return fmt.Errorf("node %q: %w", w.machine.Identity(), err)
	}
	cfg.Node = n
	return w.objectStore(cfg)
}

// objectStore registers the obj:// source in cfg, and gives the staged-rollout controller its
// gate, both over the machine's JetStream connection; until Choria has set that up, obj://
// downloads fail saying so, and are retried with the usual backoff, and staged changes wait.
func (w *Watcher) objectStore(cfg *machines.Config) error {
	if w.staging == nil { // a reconcile outside Run (tests)
		w.staging = &nodeloop.Staging{}
	}
	js, _, err := w.tryJetStream()
	if err != nil {
		w.staging.UseGate(context.Background(), nil, fmt.Sprintf("the gate is read over the machine's JetStream connection, which is not up yet (%v)", err))
		return nodeloop.UseObjectStore(cfg, nil, fmt.Sprintf("obj:// archives are read over the machine's JetStream connection, which is not up yet (%v)", err))
	}
	// Staged rollouts' gate, too.
	w.staging.UseGate(context.Background(), js, "")
	return nodeloop.UseObjectStore(cfg, js, "")
}

// governor is the function the core calls to enter an entry's governor before downloading it.
func (w *Watcher) governor() machines.GovernorFunc {
	enter := func(ctx context.Context, governor string, timeout time.Duration) (func() error, error) {
		fin, err := w.EnterGovernor(ctx, governor, timeout)
		if err != nil {
			return nil, err
		}
		return fin, nil
	}
	return governorFunc(enter, w.settings.GovernorTimeout, w.Warnf)
}

// PropertyHint is how the watcher says to raise a limit (machines.Config.RaiseHint): with its property in the
// machine.yaml that runs the watcher.
func PropertyHint(limit string) string {
	if s, ok := nodeloop.Lookup(limit); ok {
		return "the " + s.Name + " property of the machines watcher"
	}
	return ""
}
