package machines

import (
	"context"
	"fmt"
	"time"

	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// Reconcile makes the machines directory cfg.Dir match the specification in envelope: it opens
// the directory's store (taking its lock), checks the signature and validity, refuses a rollback
// or an expired specification, plans and applies. When the specification as a whole is refused,
// Report.Err says why and nothing on disk changed.
func Reconcile(ctx context.Context, cfg Config, envelope []byte) *Report {
	return reconcile(ctx, cfg, envelope, func(dir string) (*install.Store, func() error, error) {
		st, err := install.Open(dir)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	})
}

// ReconcileStore is Reconcile in a machines directory the caller holds open (st, of cfg.Dir):
// the node loop holds its directory for its whole life. The record is written before it
// returns; st stays open.
func ReconcileStore(ctx context.Context, cfg Config, st *install.Store, envelope []byte) *Report {
	return reconcile(ctx, cfg, envelope, func(string) (*install.Store, func() error, error) {
		return st, st.Flush, nil
	})
}

// reconcile is Reconcile with the store from open, which also returns what ends the use of it
// (Close, or Flush for a store the caller holds).
func reconcile(ctx context.Context, cfg Config, envelope []byte, open func(string) (*install.Store, func() error, error)) *Report {
	rep := &Report{Started: time.Now()}
	defer func() { rep.Duration = time.Since(rep.Started) }()
	cfg, st, done, s, err := prepare(ctx, cfg, envelope, rep, open, true)
	if err != nil {
		rep.Err = cfg.withHint(err)
		return rep
	}
	if last := st.Accepted(); cfg.ResetRollback || last == nil || last.Digest != s.Digest {
		// Written with the first change to the directory, or when the store closes.
		st.NoteAccepted(spec.NewAccepted(s, cfg.Now()))
	}
	plan := MakePlan(s, st, cfg)
	rep.Results = Apply(ctx, cfg, st, plan)
	if err := done(); err != nil {
		cfg.Logger.Error("could not write the record of what mms manages", "dir", cfg.Dir, "error", err)
	}
	return rep
}

// Preview returns the plan Reconcile would carry out, changing nothing, not even creating mms's
// state directory (mms apply --dry-run). The returned report carries the specification's
// details, or the refusal in Err.
func Preview(cfg Config, envelope []byte) (*Plan, *Report) {
	rep := &Report{Started: time.Now()}
	if cfg.ResetRollback {
		rep.Err = fmt.Errorf("a reset of the rollback record cannot be previewed")
		return nil, rep
	}
	cfg, st, done, s, err := prepare(context.Background(), cfg, envelope, rep, func(dir string) (*install.Store, func() error, error) {
		st, err := install.Inspect(dir)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}, false)
	if err != nil {
		rep.Err = cfg.withHint(err)
		return nil, rep
	}
	defer done()
	plan := MakePlan(s, st, cfg)
	for _, step := range plan.Steps {
		r := resultOf(step)
		r.Err = cfg.withHint(step.Err)
		if r.Err != step.Err {
			r.Reason = r.Err.Error()
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Duration = time.Since(rep.Started)
	return plan, rep
}

// prepare opens the specification and the store (with open: install.Open to act,
// install.Inspect to preview, or the store the caller holds) and admits the specification; on
// success the caller calls done, which ends its use of the store. With a keyring, the store is
// opened first (the keyring reached is kept in it, when keep) and the keyring walked before the
// specification is opened against its signers.
func prepare(ctx context.Context, cfg Config, envelope []byte, rep *Report, open func(string) (*install.Store, func() error, error), keep bool) (Config, *install.Store, func() error, *spec.Spec, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return cfg, nil, nil, nil, err
	}
	if cfg.Trust.Now == nil {
		cfg.Trust.Now = cfg.Now
	}
	var st *install.Store
	var done func() error
	if cfg.Keyring != nil {
		if st, done, err = open(cfg.Dir); err != nil {
			return cfg, nil, nil, nil, err
		}
		cfg.Trust.Signers = cfg.Keyring.Refresh(ctx, cfg.Now(), keep)
	}
	s, err := spec.Open(envelope, cfg.Trust)
	if err != nil {
		if done != nil {
			done()
		}
		return cfg, nil, nil, nil, err
	}
	rep.Format, rep.Version, rep.Signed, rep.Unknown, rep.Digest = s.Format, s.Version, s.Signed(), s.Unknown, s.Digest
	if st == nil {
		if st, done, err = open(cfg.Dir); err != nil {
			return cfg, nil, nil, nil, err
		}
	}
	// A reset judges the specification as if it were the first, and takes effect only with it:
	// the record of the one accepted before is replaced when this one is noted as accepted,
	// never erased on its own (a refused specification would leave the node open to a replay).
	last := st.Accepted()
	if cfg.ResetRollback {
		last = nil
	}
	if err := spec.Admit(s, last, cfg.Trust, cfg.Now()); err != nil {
		done()
		return cfg, nil, nil, nil, err
	}
	if cfg.ResetRollback && st.Accepted() != nil {
		cfg.Logger.Warn("forgetting the specification accepted before, as asked: this one replaces it", "dir", cfg.Dir, "version", s.Version)
	}
	return cfg, st, done, s, nil
}
