package machines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/mms-io/mms/machines/cache"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/sums"
)

// applier carries out one plan.
type applier struct {
	cfg      Config
	st       *install.Store
	fetchers *fetchers
	cache    *cache.Cache // nil keeps nothing
}

// Apply carries out plan in st: downloads run in parallel up to cfg.Parallel, one failing
// entry never stops the others, and every step gets a result with its reason and duration.
func Apply(ctx context.Context, cfg Config, st *install.Store, plan *Plan) []Result {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return failAll(plan, err)
	}
	f, err := newFetchers(cfg)
	if err != nil {
		return failAll(plan, err)
	}
	a := &applier{cfg: cfg, st: st, fetchers: f}
	results := make([]Result, len(plan.Steps))
	var downloads, retires []int
	for i, step := range plan.Steps {
		switch step.Action {
		case ActionInstall, ActionUpdate, ActionRepair:
			downloads = append(downloads, i)
		case ActionRetire:
			retires = append(retires, i) // after the adoption it follows, below
		default:
			results[i] = a.local(step)
		}
	}
	if len(downloads) > 0 {
		a.cache = openCache(cfg)
		defer a.cache.Close()
		a.splay(ctx)
		sem := make(chan struct{}, cfg.Parallel)
		var wg sync.WaitGroup
		for _, i := range downloads {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				results[i] = a.download(ctx, plan.Steps[i])
			}(i)
		}
		wg.Wait()
	}
	a.retire(plan, results, retires)
	if err := st.Flush(); err != nil {
		cfg.Logger.Error("could not save the verification cache", "dir", cfg.Dir, "error", err)
	}
	for _, r := range results {
		a.log(r)
	}
	return results
}

// failAll reports every step as failed with err.
func failAll(plan *Plan, err error) []Result {
	out := make([]Result, len(plan.Steps))
	for i, s := range plan.Steps {
		out[i] = resultOf(s)
		out[i].Reason, out[i].Err = err.Error(), err
	}
	return out
}

// local carries out a step that downloads nothing.
func (a *applier) local(step Step) Result {
	start := time.Now()
	r := resultOf(step)
	r.Err = a.cfg.withHint(step.Err)
	if r.Err != step.Err {
		r.Reason = r.Err.Error()
	}
	switch step.Action {
	case ActionKeep:
		a.st.SetVerified(step.Name, step.Files)
	case ActionAdopt, ActionReplace:
		r.Err = a.st.Adopt(a.managed(step, step.Files))
	case ActionRemove:
		r.Err = a.st.Remove(step.Name)
	case ActionRevert:
		r.Err = a.revert(step, &r)
	}
	if r.Err != nil && step.Action != ActionRefuse {
		r.Reason = r.Err.Error()
	}
	r.Duration = time.Since(start)
	return r
}

// retire carries out the ActionRetire steps at indexes, each only when the step of the
// machine its go-choria manager installs succeeded: a manager is never removed before mms has
// recorded the machine as its own.
func (a *applier) retire(plan *Plan, results []Result, indexes []int) {
	failed := map[string]bool{}
	for i, s := range plan.Steps {
		if s.Action != ActionRetire && results[i].Failed() {
			failed[s.Name] = true
		}
	}
	for _, i := range indexes {
		step := plan.Steps[i]
		start := time.Now()
		r := resultOf(step)
		if failed[step.Entry.Name] {
			r.Err = fmt.Errorf("retire %s: kept, because %s did not complete", step.Name, step.Entry.Name)
		} else {
			r.Err = retireGoChoriaManager(a.st, step.Entry.Name)
		}
		if r.Err != nil {
			r.Reason = r.Err.Error()
		}
		r.Duration = time.Since(start)
		results[i] = r
	}
}

// download installs, updates or repairs one entry: governor, stage, fetch, extract, verify, swap.
func (a *applier) download(ctx context.Context, step Step) Result {
	start := time.Now()
	r := resultOf(step)
	err := a.cfg.Retry.hold(step, a.cfg.Now())
	if err == nil {
		r.FromCache, err = a.install(ctx, step)
		r.RetryAt = a.cfg.Retry.record(ctx, step, err, a.cfg.Now())
	}
	if err != nil {
		r.Err = a.cfg.withHint(err)
		r.Reason = r.Err.Error()
		if !r.RetryAt.IsZero() {
			r.Reason += fmt.Sprintf("; attempted again at the first reconcile after %s (in %s)",
				r.RetryAt.UTC().Format(time.RFC3339), r.RetryAt.Sub(a.cfg.Now()).Round(time.Second))
		}
	}
	r.Duration = time.Since(start)
	return r
}

// install carries out one download step: governor, stage, fetch (or take from the archive
// cache), extract, verify, swap. It says whether the archive came from the cache.
func (a *applier) install(ctx context.Context, step Step) (fromCache bool, err error) {
	e := step.Entry
	if e.Governor != "" && a.cfg.Governor != nil {
		gctx, cancel := context.WithTimeout(ctx, a.cfg.GovernorTimeout)
		release, err := a.cfg.Governor(gctx, e.Name, e.Governor)
		cancel()
		if err != nil {
			return false, fmt.Errorf("%s %q: governor %s: %w", step.Action, e.Name, e.Governor, err)
		}
		defer release()
	}
	stg, err := a.st.Stage(e.Name)
	if err != nil {
		return false, err
	}
	defer stg.Discard()
	files, fromCache, err := a.obtain(ctx, e, stg.Dir())
	if err != nil {
		return false, fmt.Errorf("%s %q: %w", step.Action, e.Name, err)
	}
	verified, err := sums.VerifyTree(stg.Path(), e.VerifyChecksum, files, false)
	if err != nil {
		return fromCache, fmt.Errorf("%s %q: %w", step.Action, e.Name, err)
	}
	if unlisted := sums.Unlisted(files, verified); len(unlisted) > 0 {
		return fromCache, fmt.Errorf("%s %q: %w: %s does not list %s: no verification would cover it and no repair restore it (mms archive lists every file)",
			step.Action, e.Name, errs.ErrUnsafeArchive, sums.FileName, strings.Join(unlisted, ", "))
	}
	if e.Rollout != nil {
		// A staged change may be taken back: keep the version it replaces.
		return fromCache, a.st.CommitKeepingPrevious(stg, a.managed(step, verified))
	}
	return fromCache, a.st.Commit(stg, a.managed(step, verified))
}

// managed is the record of the step's entry once installed.
func (a *applier) managed(step Step, files sums.Cache) install.Managed {
	return install.Managed{
		Name:           step.Name,
		Checksum:       step.Entry.Checksum,
		VerifyChecksum: step.Entry.VerifyChecksum,
		Source:         fetch.Source{URL: step.Entry.Source}.String(),
		Files:          files,
	}
}

// splay waits a random part of cfg.Splay, so that a fleet does not download in one instant.
func (a *applier) splay(ctx context.Context) {
	if a.cfg.Splay <= 0 {
		return
	}
	t := time.NewTimer(rand.N(a.cfg.Splay))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// log writes one line per result.
func (a *applier) log(r Result) {
	switch {
	case r.Failed() && r.Err != nil:
		a.cfg.Logger.Error("machine "+string(r.Action)+" failed", "machine", r.Name, "reason", r.Reason, "error", r.Err, "duration", r.Duration)
	case r.Failed():
		a.cfg.Logger.Error("machine "+string(r.Action)+" failed", "machine", r.Name, "reason", r.Reason, "duration", r.Duration)
	case r.Changed() || r.Action == ActionAdopt || r.Action == ActionReplace || r.Action == ActionLeave:
		a.cfg.Logger.Info("machine "+string(r.Action), "machine", r.Name, "reason", r.Reason, "duration", r.Duration)
	default:
		a.cfg.Logger.Debug("machine "+string(r.Action), "machine", r.Name, "reason", r.Reason)
	}
}
