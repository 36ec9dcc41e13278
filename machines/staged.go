package machines

import (
	"errors"
	"fmt"

	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// Rollout is what a reconcile asks of the host's staged-rollout controller about an entry
// that carries a rollout policy (spec.Entry.Rollout). The node loop's controller answers from
// the gate it keeps with the fleet; the reconcile itself never waits on the network for it.
type Rollout interface {
	// Admit says whether this node may install e now, from installed (the checksum on disk,
	// "" when none), and when not, why.
	Admit(e spec.Entry, installed string) (ok bool, why string)
	// Revert says whether this node must take back e's change, which it installed, and why.
	Revert(e spec.Entry) (ok bool, why string)
}

// ErrNoStagedRollouts means an entry has a rollout policy and the host cannot stage it (mms
// apply has no fleet to weigh it against): it is refused rather than installed at once.
var ErrNoStagedRollouts = errors.New("this host does not stage rollouts")

// stageRollouts holds back, or takes back, the steps of the entries with a rollout policy, as
// cfg.Rollout says: an install or update the gate does not admit waits (ActionWait, nothing
// on disk changes), and an installed change the controller says to take back is reverted
// (ActionRevert). Entries without a policy are not touched.
func stageRollouts(p *Plan, cfg Config) {
	for i, step := range p.Steps {
		e := step.Entry
		if e.Rollout == nil || step.Name != e.Name {
			continue
		}
		switch step.Action {
		case ActionInstall, ActionUpdate:
			if cfg.Rollout == nil {
				err := fmt.Errorf("%w: %s %q has a rollout policy, and only the Choria watcher and mms agent stage changes", ErrNoStagedRollouts, step.Action, e.Name)
				p.Steps[i] = Step{Name: e.Name, Action: ActionRefuse, Err: err, Reason: err.Error(), Entry: e}
				continue
			}
			if ok, why := cfg.Rollout.Admit(e, step.Installed); !ok {
				p.Steps[i] = Step{Name: e.Name, Action: ActionWait, Reason: why, Entry: e, Installed: step.Installed}
			}
		case ActionKeep, ActionRepair:
			if cfg.Rollout == nil {
				continue
			}
			if ok, why := cfg.Rollout.Revert(e); ok {
				p.Steps[i] = Step{Name: e.Name, Action: ActionRevert, Reason: why, Entry: e}
			}
		}
	}
}

// revert takes back the change of step's entry: it swaps the previous version, kept when the
// change was installed, back in once it verifies against its record; with none kept (the
// change was the machine's first install) it removes the machine. The result's reason says
// which.
func (a *applier) revert(step Step, r *Result) error {
	prev, kept := a.st.Previous(step.Name)
	if !kept {
		if err := a.st.Remove(step.Name); err != nil {
			return fmt.Errorf("revert %q: no previous version kept, and removing it failed: %w", step.Name, err)
		}
		r.Reason, r.Installed = step.Reason+"; no previous version to go back to: removed", ""
		return nil
	}
	if _, err := sums.VerifyTree(a.st.PreviousPath(step.Name), prev.VerifyChecksum, prev.Files, false); err != nil {
		return fmt.Errorf("revert %q: the previous version kept (archive %s) does not verify, kept the installed one: %w", step.Name, short(prev.Checksum), err)
	}
	m, err := a.st.Revert(step.Name)
	if err != nil {
		return err
	}
	r.Reason, r.Installed = fmt.Sprintf("%s; back on archive %s", step.Reason, short(m.Checksum)), m.Checksum
	return nil
}
