package machines

import (
	"errors"
	"fmt"
	"sort"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// Decide builds the plan for s from values only: which entries match (matched, by entry
// index), what the inventory read, and whether to purge. In one pass over the entries it
// decides each entry's step and, for an entry with a go-choria manager, the manager's step
// and how the manager changes the entry's (decideTakeover); then, when purge, the managed
// machines s no longer names are removed, those its keyring signers may change (MayChange).
func Decide(s *spec.Spec, matched []Matched, inv Inventory, purge bool) *Plan {
	p := &Plan{Spec: s}
	inSpec := make(map[string]bool, len(s.Entries))
	for i, e := range s.Entries {
		inSpec[e.Name] = true
		rec, managed := inv.Managed[e.Name]
		step := decideEntry(e, matched[i], inv.Machines[e.Name], rec, managed)
		// A machine whose matcher is false here is removed like one the spec omits; one whose
		// matcher failed is refused, and so kept.
		if step.Action == ActionSkip && managed && purge {
			step = Step{Name: e.Name, Action: ActionRemove, Reason: "matcher is false on this node", Entry: e}
		}
		if mf, ok := inv.Managers[e.Name]; ok {
			var mstep Step
			step, mstep = decideTakeover(step, mf)
			p.Steps = append(p.Steps, mstep)
		}
		p.Steps = append(p.Steps, step)
	}
	if purge {
		for name := range inv.Managed {
			switch {
			case inSpec[name]:
			case !s.MayChange(name):
				// Keyring signers left out a machine they may not sign for: leaving it out is
				// no word of theirs on it.
				err := s.Signing.ScopeError("removal of", name)
				p.Steps = append(p.Steps, Step{Name: name, Action: ActionRefuse, Err: err, Reason: err.Error()})
			default:
				p.Steps = append(p.Steps, Step{Name: name, Action: ActionRemove, Reason: "not in the specification"})
			}
		}
	}
	sort.SliceStable(p.Steps, func(i, j int) bool { return p.Steps[i].Name < p.Steps[j].Name })
	return p
}

// decideEntry decides what to do with one entry, from its matcher's result, what is on disk
// at its path (f) and mms's record of it (rec, when managed).
func decideEntry(e spec.Entry, m Matched, f Found, rec install.Managed, managed bool) Step {
	step := Step{Name: e.Name, Entry: e}
	refuse := func(err error) Step {
		step.Action, step.Err, step.Reason = ActionRefuse, err, err.Error()
		return step
	}
	switch {
	case m.Err != nil:
		return refuse(m.Err)
	case !m.OK:
		step.Action, step.Reason = ActionSkip, "matcher is false on this node"
		return step
	case f.Err != nil:
		return refuse(f.Err)
	case !f.Exists:
		step.Action, step.Reason = ActionInstall, "not installed"
		return step
	case !f.IsDir:
		return refuse(fmt.Errorf("%w: %s exists and is a %s, not a machine mms installed", errs.ErrNotManaged, f.Path, f.Type))
	case managed && rec.Checksum != e.Checksum:
		step.Action, step.Reason, step.Installed = ActionUpdate, fmt.Sprintf("archive checksum changed from %s", short(rec.Checksum)), rec.Checksum
		return step
	}
	verified := f.Verify == nil
	switch {
	case verified && f.StraysErr != nil:
		return refuse(f.StraysErr)
	case verified && managed && !f.Strays.Empty():
		// Repair reinstalls from the archive: the swap takes the strays away.
		step.Action, step.Reason = ActionRepair, "installed copy holds what its archive does not: "+f.Strays.String()
	case verified && managed:
		step.Action, step.Reason, step.Files = ActionKeep, "installed and verified", f.Files
	case verified && len(f.Strays.Extra) > 0:
		return refuse(fmt.Errorf("%w: %s verifies against the entry but also holds %s: not adopted, since a later purge would delete them; move them away", errs.ErrNotManaged, f.Path, f.Strays.String()))
	case verified:
		step.Action, step.Reason, step.Files = ActionAdopt, "already on disk and verifies against the entry", f.Files
	case managed:
		step.Action, step.Reason = ActionRepair, fmt.Sprintf("installed copy fails verification: %v", f.Verify)
	default:
		return refuse(fmt.Errorf("%w: %s exists, was not installed by mms and does not verify against the entry; move it away or rename the entry", errs.ErrNotManaged, f.Path))
	}
	return step
}

// decideTakeover decides, for an entry whose machine has a directory named like go-choria's
// manager of it (mm_<name>), what to do with that directory, and holds back the entry's step
// where go-choria's manager would fight it:
//
//   - entry adopted or kept: the manager is retired (ActionRetire) once the adoption is
//     recorded. Its archive watcher, while Choria still runs it, finds <name> verified and does
//     nothing.
//   - entry to install, update or repair: the manager is retired now and the entry deferred
//     (ActionDefer) to a later reconcile, because until Choria has stopped the manager (its
//     loader notices a removed directory within 10 s), the manager's archive watcher would
//     download its own archive again over a <name> that no longer verifies against it.
//   - entry refused because <name> is not managed and does not verify against it: when the
//     manager is go-choria's rendering and <name> verifies against the manager's own
//     verify_checksum, go-choria installed an older version; it is adopted with the manager's
//     checksums (ActionReplace) and the manager retired, so that a later reconcile updates it.
//   - a directory named mm_<name> that is not go-choria's rendering is left alone and reported
//     (ActionLeave), and so is a rendering whose machine mms did not take over.
//
// The inventory reads managers only for entries whose matcher is true, so step is one of
// those actions or a refusal.
func decideTakeover(step Step, mf ManagerFound) (Step, Step) {
	e := step.Entry
	dirName := GoChoriaManagerDir(e.Name)
	leave := func(reason string) (Step, Step) {
		return step, Step{Name: dirName, Action: ActionLeave, Entry: e, Reason: reason}
	}
	switch {
	case errors.Is(mf.Err, ErrNotGoChoriaManager):
		return leave(mf.Err.Error() + "; left alone")
	case mf.Err != nil:
		return step, Step{Name: dirName, Action: ActionRefuse, Entry: e, Err: mf.Err, Reason: mf.Err.Error()}
	}
	installed := managerEntry(mf.Manager)
	retire := Step{Name: dirName, Action: ActionRetire, Entry: e,
		Reason: fmt.Sprintf("go-choria's manager of %s (archive %s); mms manages %s now", e.Name, short(installed.Checksum), e.Name)}
	switch step.Action {
	case ActionAdopt, ActionKeep:
		return step, retire
	case ActionInstall, ActionUpdate, ActionRepair:
		step.Reason = fmt.Sprintf("%s waits for a later reconcile: go-choria's manager %s still watches %s and is retired now (%s)",
			step.Action, dirName, e.Name, step.Reason)
		step.Action, step.Files = ActionDefer, nil
		return step, retire
	}
	// ActionRefuse: did go-choria install the machine that is there?
	if why := goChoriaInstalled(step, mf); why != "" {
		return leave(fmt.Sprintf("go-choria's manager of %s, left running: mms did not take %s over (%s)", e.Name, e.Name, why))
	}
	step = Step{
		Name:   e.Name,
		Action: ActionReplace,
		Entry:  installed,
		Files:  mf.Installed.Files,
		Reason: fmt.Sprintf("go-choria installed archive %s (its manager %s renders it and the files verify): adopted now, replaced by the entry's archive %s on a later reconcile, once Choria has stopped %s",
			short(installed.Checksum), dirName, short(e.Checksum), dirName),
	}
	retire.Entry = step.Entry
	return step, retire
}

// goChoriaInstalled says why the machine of a refused step is not the one go-choria's manager
// installed, "" when it is: a directory mms does not manage that verifies against the
// manager's verify_checksum.
func goChoriaInstalled(step Step, mf ManagerFound) string {
	switch {
	case !errors.Is(step.Err, errs.ErrNotManaged):
		return step.Reason
	case !managerSums(mf.Manager):
		return step.Reason + "; and the manager's checksums are not sha256 hex"
	case mf.Installed == nil || !mf.Installed.IsDir:
		return step.Reason
	case mf.Installed.Verify != nil:
		return fmt.Sprintf("%s; nor does it verify against the manager's: %v", step.Reason, mf.Installed.Verify)
	}
	return ""
}
