package nodeloop

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
)

// maxLastReportBytes bounds what ReadLastReport reads of the last report.
const maxLastReportBytes = 1 << 20 // 1 MiB

// LastReport is the outcome of a Loop's last reconcile as mms status shows it.
type LastReport struct {
	At       time.Time          `json:"at"`
	Revision uint64             `json:"revision"`
	Trigger  string             `json:"trigger"` // the triggers, comma separated
	Format   int                `json:"format"`
	Version  int64              `json:"version"`
	Signed   bool               `json:"signed"`
	Refused  string             `json:"refused,omitempty"`
	Results  []LastReportResult `json:"results"`
	Duration time.Duration      `json:"duration_ns"`
}

// LastReportResult is one entry's result in a LastReport.
type LastReportResult struct {
	Name   string          `json:"name"`
	Action machines.Action `json:"action"`
	Failed bool            `json:"failed,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// LastReportObserver saves every reconcile's outcome in Dir for mms status; passes without a
// reconcile (no specification yet) are not saved. A failure to save is logged to Logger.
type LastReportObserver struct {
	Dir    string
	Logger *slog.Logger
}

// Observe implements Observer.
func (l LastReportObserver) Observe(o Outcome) {
	if o.Report == nil {
		return
	}
	if err := WriteLastReport(l.Dir, o); err != nil && l.Logger != nil {
		l.Logger.Warn("could not save the outcome for mms status", "error", err)
	}
}

// NewLastReport summarises one reconcile. Reasons are the core's words, which never hold a
// password.
func NewLastReport(o Outcome) LastReport {
	rep := o.Report
	var triggers []string
	for _, t := range o.Triggers {
		triggers = append(triggers, string(t))
	}
	lr := LastReport{
		At: rep.Started.Add(rep.Duration).UTC(), Revision: o.Revision, Trigger: strings.Join(triggers, ", "),
		Format: rep.Format, Version: rep.Version, Signed: rep.Signed, Duration: rep.Duration,
		Results: []LastReportResult{},
	}
	if rep.Err != nil {
		lr.Refused = rep.Err.Error()
	}
	for _, r := range rep.Results {
		lr.Results = append(lr.Results, LastReportResult{Name: r.Name, Action: r.Action, Failed: r.Failed(), Reason: r.Reason})
	}
	return lr
}

// WriteLastReport replaces dir's last report atomically (a temporary file beside it, renamed
// over it). It does not fsync: the report is a hint for mms status, rewritten at every
// reconcile, and two fsyncs per reconcile were a tenth of a fleet's install time on disk. After
// a power loss it may be missing or empty until the next reconcile; never half of two reports.
func WriteLastReport(dir string, o Outcome) error {
	data, err := json.MarshalIndent(NewLastReport(o), "", "  ")
	if err != nil {
		return err
	}
	// Through install, which creates .mms and refuses one mms may not trust (a symlink, another
	// owner, writable by others) before anything is written through it.
	path, err := install.StatePath(dir, install.LastReportName)
	if err != nil {
		return fmt.Errorf("write the last report of %s: %w", dir, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".last-report-*.json")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(append(data, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadLastReport reads dir's last report; ok is false when there is none.
func ReadLastReport(dir string) (lr LastReport, ok bool, err error) {
	path := install.StatePathFor(dir, install.LastReportName)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return lr, false, nil
	}
	if err != nil {
		return lr, false, err
	}
	defer f.Close()
	dec := json.NewDecoder(&limitedReader{f: f, n: maxLastReportBytes})
	if err := dec.Decode(&lr); err != nil {
		return lr, false, fmt.Errorf("read %s: %w", path, err)
	}
	return lr, true, nil
}

// limitedReader reads at most n bytes of f, then fails (io.LimitReader would end silently).
type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxLastReportBytes)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}
