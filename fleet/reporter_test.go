package fleet

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

func TestReporter(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "machine.yaml"), []byte("name: web\nversion: 1.2.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Reporter{Identity: "web1", Host: "mms agent", Version: "v1", Dir: dir, Heartbeat: time.Minute,
		State: func(m string) string { return map[string]string{"web": "RUNNING"}[m] }}
	if s := r.Status(time.Now()); s.Outcome != OutcomeWaiting || s.FreshForMS != 180_000 || s.Schema != Schema {
		t.Fatalf("before any outcome: %+v", s)
	}
	pass := func(rev uint64, version int64, err error, trigger nodeloop.Trigger, results ...machines.Result) {
		r.Observe(nodeloop.Outcome{Triggers: []nodeloop.Trigger{trigger}, Revision: rev,
			Report: &machines.Report{Format: 2, Version: version, Signed: true, Err: err, Results: results, Started: time.Now()}})
	}
	web := machines.Result{Name: "web", Action: machines.ActionInstall, Checksum: "aa"}
	skipped := machines.Result{Name: "db", Action: machines.ActionSkip, Checksum: "bb"}
	pass(3, 30, nil, nodeloop.TriggerSpecification, web, skipped)
	s := r.Status(time.Now())
	if s.Outcome != OutcomeConverged || s.Spec == nil || s.Spec.Revision != 3 || len(s.Machines) != 1 || s.Machines[0].Version != "1.2.3" || !s.Machines[0].Verified || s.Machines[0].State != "RUNNING" {
		t.Fatalf("after an install: %+v", s)
	}

	pass(4, 20, errors.New("rollback refused: version 20 is below 30"), nodeloop.TriggerSpecification)
	pass(3, 30, nil, nodeloop.TriggerFallback, machines.Result{Name: "web", Action: machines.ActionRepair, Checksum: "aa"})
	s = r.Status(time.Now())
	if s.Outcome != OutcomeRefused || s.Refused == nil || s.Refused.Revision != 4 || !strings.Contains(s.Refused.Reason, "rollback") || s.Spec.Revision != 3 {
		t.Fatalf("a refusal, then the fallback repairing the accepted one: %+v", s)
	}
	if len(s.Repairs) != 1 || s.Repairs[0].Machine != "web" {
		t.Errorf("repairs %+v", s.Repairs)
	}

	failed := machines.Result{Name: "web", Action: machines.ActionUpdate, Checksum: "cc", Err: errors.New("x"), Reason: strings.Repeat("é", 1000)}
	pass(5, 40, nil, nodeloop.TriggerSpecification, failed)
	s = r.Status(time.Now())
	if s.Outcome != OutcomeFailed || s.Refused != nil || s.Machines[0].Verified || len(s.Machines[0].Error) > maxReason+len("…") {
		t.Fatalf("a failed update: %+v", s)
	}
	if !strings.HasSuffix(s.Machines[0].Error, "é…") {
		t.Errorf("the reason is not cut on a rune boundary: %q", s.Machines[0].Error[len(s.Machines[0].Error)-8:])
	}

	r.Observe(nodeloop.Outcome{Preempted: true, Report: &machines.Report{Err: errors.New("cancelled")}})
	if r.Status(time.Now()).Outcome != OutcomeFailed {
		t.Error("a pre-empted pass changed the status")
	}
}

// TestReporterEdges: a node's own failure is not a refusal of the specification; a deferred
// or adopted-from-go-choria entry leaves the node converging, not converged; the times a pass
// renews do not count as a change.
func TestReporterEdges(t *testing.T) {
	r := &Reporter{Identity: "web1", Heartbeat: time.Minute}
	r.Observe(nodeloop.Outcome{Revision: 2, Report: &machines.Report{Format: 2, Version: 20, Digest: "aa", Results: []machines.Result{{Name: "web", Action: machines.ActionKeep}}}})
	lockErr := errors.New("hold the machines directory /m: held by pid 7 (mms apply)")
	r.Observe(nodeloop.Outcome{Revision: 2, NodeErr: lockErr, Report: &machines.Report{Err: lockErr}})
	s := r.Status(time.Now())
	if s.Outcome != OutcomeFailed || s.Refused != nil || !strings.Contains(s.NodeError, "held by pid 7") || s.Spec == nil || s.Spec.Digest != "aa" {
		t.Fatalf("a node that cannot hold its directory: %+v", s)
	}
	r.Observe(nodeloop.Outcome{Revision: 3, Report: &machines.Report{Format: 2, Version: 30, Results: []machines.Result{
		{Name: "web", Action: machines.ActionDefer}, {Name: "db", Action: machines.ActionReplace}}}})
	s = r.Status(time.Now())
	if s.Outcome != OutcomeConverging || s.NodeError != "" || s.Machines[0].Verified {
		t.Fatalf("a takeover in progress: %+v", s)
	}
	a, b := s, s
	b.LastReconcile, b.Trigger, b.ReportedAt = time.Now().Add(time.Hour), "interval", time.Now().Add(time.Hour)
	ja, _ := json.Marshal(withoutTime(a))
	jb, _ := json.Marshal(withoutTime(b))
	if string(ja) != string(jb) {
		t.Errorf("an interval that changed nothing counts as a change:\n%s\n%s", ja, jb)
	}
}
