package watchers

import (
	"context"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// coreReconcile is the ReconcileFunc that runs the mms core against the machines directory.
// It is only ever called from the reconcile loop, so lastFullVerify needs no lock.
func (w *Watcher) coreReconcile(ctx context.Context, envelope []byte) *machines.Report {
	started := time.Now()
	cfg, err := w.coreConfig(started)
	if err != nil {
		return &machines.Report{Started: started, Err: err, Duration: time.Since(started)}
	}
	report := machines.Reconcile(ctx, cfg, envelope)
	if cfg.FullVerify && report.Err == nil {
		w.lastFullVerify = started
	}
	return report
}

// coreConfig builds the core's configuration from the watcher's settings.
func (w *Watcher) coreConfig(now time.Time) (machines.Config, error) {
	node, err := w.node()
	if err != nil {
		return machines.Config{}, err
	}

	fo := fetch.DefaultOptions()
	fo.AllowedSchemes = w.settings.AllowSchemes
	fo.MaxBytes = w.settings.MaxDownloadBytes
	fo.Timeout = w.settings.DownloadTimeout
	fo.MaxRedirects = w.settings.MaxRedirects
	fo.Logger = newMachineLogger(w)

	limits := archive.DefaultLimits()
	limits.MaxUnpackedBytes = w.settings.MaxUnpackedBytes
	limits.MaxFiles = w.settings.MaxFiles
	limits.MaxPathLength = w.settings.MaxPathLength

	return machines.Config{
		Dir:  w.settings.MachinesDirectory,
		Node: node,
		// With no key the watcher acts on unsigned specifications, as go-choria v0.29.4 did,
		// and every notification says so.
		Trust:           spec.Trust{Keys: w.keys, InsecureAllowUnsigned: len(w.keys) == 0},
		Purge:           w.settings.PurgeUnknown,
		FullVerify:      w.dueFullVerify(now),
		Fetch:           fo,
		Archive:         limits,
		Matcher:         w.settings.Matcher,
		Governor:        w.governor(),
		GovernorTimeout: w.settings.GovernorTimeout,
		Splay:           w.settings.Splay,
		Retry:           w.retry,
		Logger:          newMachineLogger(w),
	}, nil
}

// dueFullVerify tells whether this reconcile should re-hash every installed file: when
// full_verify_interval is set and that long has passed since the last full verification.
func (w *Watcher) dueFullVerify(now time.Time) bool {
	if w.settings.FullVerifyInterval <= 0 {
		return false
	}
	return w.lastFullVerify.IsZero() || now.Sub(w.lastFullVerify) >= w.settings.FullVerifyInterval
}

// node describes this node to entry matchers: its identity and facts from Choria.
func (w *Watcher) node() (match.Node, error) {
	n, err := match.NewNode(w.machine.Identity(), w.machine.Facts(), "")
	if err != nil {
		return match.Node{}, fmt.Errorf("node %q: %w", w.machine.Identity(), err)
	}
	return n, nil
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
