package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"github.com/mms-io/mms/machines"
)

// lastReportFile is where mms agent keeps the outcome of its last reconcile, for mms status:
// beside the install record, in the machines directory's mms state directory.
const lastReportFile = ".mms/last-report.json"

// maxLastReportBytes bounds what mms status reads of the last report.
const maxLastReportBytes = 1 << 20 // 1 MiB

// lastReport is the outcome of the agent's last reconcile as mms status shows it.
type lastReport struct {
	At       time.Time          `json:"at"`
	Revision uint64             `json:"revision"`
	Trigger  string             `json:"trigger"`
	Format   int                `json:"format"`
	Version  int64              `json:"version"`
	Signed   bool               `json:"signed"`
	Refused  string             `json:"refused,omitempty"`
	Results  []lastReportResult `json:"results"`
	Duration time.Duration      `json:"duration_ns"`
}

type lastReportResult struct {
	Name   string          `json:"name"`
	Action machines.Action `json:"action"`
	Failed bool            `json:"failed,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// newLastReport summarises one reconcile. Reasons are the core's words, which never hold a
// password.
func newLastReport(o agentOutcome) lastReport {
	rep := o.Report
	lr := lastReport{
		At: rep.Started.Add(rep.Duration).UTC(), Revision: o.Revision, Trigger: o.Trigger,
		Format: rep.Format, Version: rep.Version, Signed: rep.Signed, Duration: rep.Duration,
		Results: []lastReportResult{},
	}
	if rep.Err != nil {
		lr.Refused = rep.Err.Error()
	}
	for _, r := range rep.Results {
		lr.Results = append(lr.Results, lastReportResult{Name: r.Name, Action: r.Action, Failed: r.Failed(), Reason: r.Reason})
	}
	return lr
}

// writeLastReport replaces dir's last report atomically.
func writeLastReport(dir string, o agentOutcome) error {
	data, err := json.MarshalIndent(newLastReport(o), "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, lastReportFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readLastReport reads dir's last report; ok is false when there is none.
func readLastReport(dir string) (lr lastReport, ok bool, err error) {
	path := filepath.Join(dir, lastReportFile)
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
