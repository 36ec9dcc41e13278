package machines

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// planGoChoriaManagers adds to p what to do with the go-choria manager directory (mm_<name>)
// of each entry's machine, and holds back changes go-choria's manager would fight:
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
// Entries whose matcher is false here, and machines not in the specification, are not looked at.
func planGoChoriaManagers(p *Plan, dir string, full bool) {
	var extra []Step
	for i := range p.Steps {
		step := &p.Steps[i]
		e := step.Entry
		if e.Name == "" || step.Name != e.Name {
			continue
		}
		switch step.Action {
		case ActionAdopt, ActionKeep, ActionInstall, ActionUpdate, ActionRepair, ActionRefuse:
		default:
			continue
		}
		dirName := GoChoriaManagerDir(e.Name)
		mgr, err := FindGoChoriaManager(dir, e.Name)
		switch {
		case err == nil && mgr == nil:
			continue
		case errors.Is(err, ErrNotGoChoriaManager):
			extra = append(extra, Step{Name: dirName, Action: ActionLeave, Entry: e, Reason: err.Error() + "; left alone"})
			continue
		case err != nil:
			extra = append(extra, Step{Name: dirName, Action: ActionRefuse, Entry: e, Err: err, Reason: err.Error()})
			continue
		}
		retire := Step{Name: dirName, Action: ActionRetire, Entry: e,
			Reason: fmt.Sprintf("go-choria's manager of %s (archive %s); mms manages %s now", e.Name, short(mgr.Checksum), e.Name)}
		switch step.Action {
		case ActionAdopt, ActionKeep:
		case ActionInstall, ActionUpdate, ActionRepair:
			step.Reason = fmt.Sprintf("%s waits for a later reconcile: go-choria's manager %s still watches %s and is retired now (%s)",
				step.Action, dirName, e.Name, step.Reason)
			step.Action, step.Files = ActionDefer, nil
		case ActionRefuse:
			replace, why := goChoriaInstalled(dir, mgr, step)
			if !replace {
				extra = append(extra, Step{Name: dirName, Action: ActionLeave, Entry: e,
					Reason: fmt.Sprintf("go-choria's manager of %s, left running: mms did not take %s over (%s)", e.Name, e.Name, why)})
				continue
			}
			*step = Step{
				Name:   e.Name,
				Action: ActionReplace,
				Entry:  spec.Entry{Name: e.Name, Source: mgr.Source, Checksum: strings.ToLower(mgr.Checksum), VerifyChecksum: strings.ToLower(mgr.VerifyChecksum)},
				Files:  step.Files,
				Reason: fmt.Sprintf("go-choria installed archive %s (its manager %s renders it and the files verify): adopted now, replaced by the entry's archive %s on a later reconcile, once Choria has stopped %s",
					short(mgr.Checksum), dirName, short(e.Checksum), dirName),
			}
			retire.Entry = step.Entry
		}
		extra = append(extra, retire)
	}
	p.Steps = append(p.Steps, extra...)
}

// goChoriaInstalled tells whether the machine of a refused step is the one go-choria's
// manager mgr installed: a real directory, not managed by mms, that verifies against the
// manager's verify_checksum. When it is, it stores the verification cache in step.Files.
func goChoriaInstalled(dir string, mgr *GoChoriaManager, step *Step) (bool, string) {
	if !errors.Is(step.Err, errs.ErrNotManaged) {
		return false, step.Reason
	}
	if !sums.IsHex256(strings.ToLower(mgr.Checksum)) || !sums.IsHex256(strings.ToLower(mgr.VerifyChecksum)) {
		return false, step.Reason + "; and the manager's checksums are not sha256 hex"
	}
	target := filepath.Join(dir, step.Name)
	fi, err := os.Lstat(target)
	if err != nil || !fi.IsDir() {
		return false, step.Reason
	}
	files, err := sums.VerifyTree(target, strings.ToLower(mgr.VerifyChecksum), nil, true)
	if err != nil {
		return false, fmt.Sprintf("%s; nor does it verify against the manager's: %v", step.Reason, err)
	}
	step.Files = files
	return true, ""
}
