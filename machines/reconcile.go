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
	rep := &Report{Started: time.Now()}
	defer func() { rep.Duration = time.Since(rep.Started) }()
	cfg, st, s, err := prepare(cfg, envelope, rep, install.Open)
	if err != nil {
		rep.Err = err
		return rep
	}
	if last := st.Accepted(); last == nil || last.Digest != s.Digest {
		// Written with the first change to the directory, or when the store closes.
		st.NoteAccepted(spec.NewAccepted(s, cfg.Now()))
	}
	plan := MakePlan(s, st, cfg)
	rep.Results = Apply(ctx, cfg, st, plan)
	if err := st.Close(); err != nil {
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
	cfg, st, s, err := prepare(cfg, envelope, rep, install.Inspect)
	if err != nil {
		rep.Err = err
		return nil, rep
	}
	defer st.Close()
	plan := MakePlan(s, st, cfg)
	for _, step := range plan.Steps {
		rep.Results = append(rep.Results, Result{Name: step.Name, Action: step.Action, Reason: step.Reason, Err: step.Err})
	}
	rep.Duration = time.Since(rep.Started)
	return plan, rep
}

// prepare opens the specification and the store (with open: install.Open to act,
// install.Inspect to preview) and admits the specification; on success the caller closes the
// store.
func prepare(cfg Config, envelope []byte, rep *Report, open func(string) (*install.Store, error)) (Config, *install.Store, *spec.Spec, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return cfg, nil, nil, err
	}
	s, err := spec.Open(envelope, cfg.Trust)
	if err != nil {
		return cfg, nil, nil, err
	}
	rep.Format, rep.Version, rep.Signed, rep.Unknown = s.Format, s.Version, s.Signed(), s.Unknown
	st, err := open(cfg.Dir)
	if err != nil {
		return cfg, nil, nil, err
	}
	if cfg.ResetRollback {
		if err := st.ResetAccepted(); err != nil {
			st.Close()
			return cfg, nil, nil, err
		}
		cfg.Logger.Warn("forgot the specification accepted before, as asked", "dir", cfg.Dir)
	}
	if err := spec.Admit(s, st.Accepted(), cfg.Now()); err != nil {
		st.Close()
		return cfg, nil, nil, err
	}
	return cfg, st, s, nil
}
