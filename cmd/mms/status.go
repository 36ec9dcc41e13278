package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/dustin/go-humanize"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/cache"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// stateFile is the install record of a machines directory, as messages name it.
var stateFile = filepath.Join(install.StateDirName, install.RecordName)

func init() { registerCommand(configureStatus) }

type statusCommand struct {
	dir   string
	json  bool
	fleet fleetFlags
}

func configureStatus(app *fisk.Application) {
	c := &statusCommand{}
	cmd := app.Command("status", "Shows what mms manages in a machines directory (--dir), whether its files verify now, and the outcome of the last reconcile; or, with --fleet, what every node reports; exits 0 when healthy (every reporting node converged), 1 when not, 2 on a usage error or unreadable state").Action(action(c.run))
	cmd.Flag("dir", "The machines directory (e.g. /etc/choria/machines); with --fleet, a local mms agent's, whose embedded server to read").ExistingDirVar(&c.dir)
	jsonFlag(cmd, &c.json)
	c.fleet.register(cmd)
}

// statusDoc is what mms status finds, and its --json output (schema "mms.status.v1").
type statusDoc struct {
	Schema string `json:"schema"`
	Dir    string `json:"dir"`
	// Recorded is false when mms has never recorded anything in Dir.
	Recorded bool `json:"recorded"`
	// Accepted is the last specification the node accepted; null when none.
	Accepted *acceptedDoc `json:"accepted"`
	// Machines are the machines mms manages, by name.
	Machines []machineDoc `json:"machines"`
	// Unmanaged are machine directories mms does not manage (never replaced or removed).
	Unmanaged []string `json:"unmanaged"`
	// GoChoriaManagers are directories named like go-choria's managers (mm_NAME).
	GoChoriaManagers []managerDoc `json:"gochoria_managers"`
	// Pending are operations a crash left unfinished, resolved by the next reconcile.
	Pending []pendingDoc `json:"pending"`
	// LastReconcile is mms agent's last reconcile; null when it has not saved one.
	LastReconcile *lastReport `json:"last_reconcile"`
	// ArchiveCache is what DIR/.mms/archives keeps: the archives a reinstall, a repair or a
	// revert takes without fetching.
	ArchiveCache cache.Usage `json:"archive_cache"`
	// ArchiveCacheProblem says why the archive cache could not be read; absent when it was.
	ArchiveCacheProblem string `json:"archive_cache_problem,omitempty"`
	// Healthy is true when every managed machine verifies and the last reconcile succeeded;
	// Degraded says what is not, and is the reason for exit code 1.
	Healthy  bool     `json:"healthy"`
	Degraded []string `json:"degraded"`
}

// acceptedDoc is the accepted specification in a statusDoc.
type acceptedDoc struct {
	Format  int       `json:"format"`
	Version int64     `json:"version,omitempty"`
	Digest  string    `json:"digest"`
	At      time.Time `json:"at"`
}

// machineDoc is one managed machine in a statusDoc.
type machineDoc struct {
	Name           string    `json:"name"`
	Version        string    `json:"version,omitempty"`
	Checksum       string    `json:"checksum"`
	VerifyChecksum string    `json:"verify_checksum"`
	Source         string    `json:"source"`
	InstalledAt    time.Time `json:"installed_at"`
	// Present is false when the machine's directory is missing.
	Present bool `json:"present"`
	// Cached is true when the archive cache keeps this machine's archive (verified on use).
	Cached bool `json:"archive_cached"`
	// Verified is true when its files verify now; Problem says why not.
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
}

// managerDoc is one mm_NAME directory in a statusDoc.
type managerDoc struct {
	Dir     string `json:"dir"`
	Machine string `json:"machine"`
	// GoChoria is true when the directory is go-choria's own rendering, retired once mms
	// manages Machine; Problem says why it is left alone otherwise.
	GoChoria bool   `json:"gochoria"`
	Source   string `json:"source,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// pendingDoc is one unfinished operation in a statusDoc.
type pendingDoc struct {
	Name string `json:"name"`
	Op   string `json:"op"`
}

// run reads the record without taking the directory's lock, so that it works while an agent
// runs: the record is always replaced atomically, so what it reads is one complete version.
func (c *statusCommand) run() error {
	if c.fleet.on {
		return c.fleet.run(c.dir, c.json)
	}
	if c.dir == "" {
		return usageError("give --dir, the machines directory to look at, or --fleet for the whole fleet")
	}
	doc, err := gatherStatus(c.dir)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if c.json {
		err = writeJSON(os.Stdout, doc)
	} else {
		printStatus(os.Stdout, doc)
	}
	if err != nil {
		return err
	}
	if !doc.Healthy {
		return &exitError{code: 1, err: fmt.Errorf("degraded: %s", strings.Join(doc.Degraded, "; "))}
	}
	return nil
}

// gatherStatus reads what mms status shows of dir, changing nothing; an error means the
// record or the last report cannot be read.
func gatherStatus(dir string) (*statusDoc, error) {
	doc := &statusDoc{Schema: "mms.status.v1", Dir: dir, Machines: []machineDoc{}, Unmanaged: []string{},
		GoChoriaManagers: []managerDoc{}, Pending: []pendingDoc{}, Degraded: []string{}}
	path := install.StatePathFor(dir, install.RecordName)
	data, err := os.ReadFile(path)
	var rec install.Record
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("status %s: %w", dir, err)
	default:
		if rec, err = install.DecodeRecord(data); err != nil {
			return nil, fmt.Errorf("status %s: read %s: %w", dir, path, err)
		}
		doc.Recorded = true
	}
	if a := rec.Accepted; a != nil {
		doc.Accepted = &acceptedDoc{Format: a.Format, Version: a.Version, Digest: a.Digest, At: a.At.UTC()}
	}
	usage, err := cache.ReadUsage(dir)
	if err != nil {
		// What the cache keeps is no reason not to say what is installed (DIR/.mms may be the
		// agent's user's, and status run by another).
		doc.ArchiveCacheProblem = err.Error()
	}
	if usage.Checksums == nil {
		usage.Checksums = []string{}
	}
	doc.ArchiveCache = usage
	for _, name := range slices.Sorted(maps.Keys(rec.Machines)) {
		m := rec.Machines[name]
		found := machines.InspectMachine(dir, machines.EntryOf(m), m, true, false)
		md := machineDoc{Name: name, Version: machines.MachineVersion(dir, name), Checksum: m.Checksum, VerifyChecksum: m.VerifyChecksum,
			Source:      fetch.Source{URL: m.Source}.String(), // records of older mms kept more of the URL
			InstalledAt: m.InstalledAt.UTC(), Present: found.Exists && found.IsDir,
			Cached: slices.Contains(usage.Checksums, strings.ToLower(m.Checksum))}
		switch problem := found.Problem(); {
		case !md.Present:
			md.Problem = "missing"
			doc.Degraded = append(doc.Degraded, name+" is missing")
		case problem != nil:
			md.Problem = problem.Error()
			doc.Degraded = append(doc.Degraded, name+" fails verification")
		default:
			md.Verified = true
		}
		doc.Machines = append(doc.Machines, md)
	}
	others, managers := handPlaced(dir, rec)
	doc.Unmanaged = append(doc.Unmanaged, others...)
	for _, name := range managers {
		md := managerDoc{Dir: machines.GoChoriaManagerDir(name), Machine: name}
		switch m, err := machines.FindGoChoriaManager(dir, name); {
		case err != nil:
			md.Problem = err.Error()
		case m != nil:
			md.GoChoria, md.Source = true, m.Source
		}
		doc.GoChoriaManagers = append(doc.GoChoriaManagers, md)
	}
	for _, name := range slices.Sorted(maps.Keys(rec.Pending)) {
		doc.Pending = append(doc.Pending, pendingDoc{Name: name, Op: string(rec.Pending[name].Op)})
	}
	last, ok, err := readLastReport(dir)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", dir, err)
	}
	if ok {
		doc.LastReconcile = &last
		if last.Refused != "" {
			doc.Degraded = append(doc.Degraded, "the last specification was refused")
		}
		for _, r := range last.Results {
			if r.Failed {
				doc.Degraded = append(doc.Degraded, "the last reconcile failed for "+r.Name)
			}
		}
	}
	doc.Healthy = len(doc.Degraded) == 0
	return doc, nil
}

// printStatus prints doc as text.
func printStatus(w io.Writer, doc *statusDoc) {
	if !doc.Recorded {
		fmt.Fprintf(w, "mms manages nothing in %s yet (no %s)\n", doc.Dir, stateFile)
	} else {
		fmt.Fprintf(w, "Machines directory %s\n", doc.Dir)
		switch a := doc.Accepted; {
		case a == nil:
			fmt.Fprintf(w, "  Accepted specification: none yet\n")
		case a.Format == 2:
			fmt.Fprintf(w, "  Accepted specification: v2 version %d, digest %s, at %s\n", a.Version, a.Digest, a.At.Format(time.RFC3339))
		default:
			fmt.Fprintf(w, "  Accepted specification: v1, digest %s, at %s\n", a.Digest, a.At.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "  Managed machines: %d\n", len(doc.Machines))
	}
	for _, m := range doc.Machines {
		onDisk := "present, verified"
		switch {
		case !m.Present:
			onDisk = "MISSING (the next reconcile reinstalls it)"
		case !m.Verified:
			onDisk = "present, FAILS verification (the next reconcile repairs it): " + m.Problem
		}
		fmt.Fprintf(w, "\n  %s\n", m.Name)
		if m.Version != "" {
			fmt.Fprintf(w, "            version: %s\n", m.Version)
		}
		fmt.Fprintf(w, "           checksum: %s\n", m.Checksum)
		fmt.Fprintf(w, "    verify_checksum: %s\n", m.VerifyChecksum)
		fmt.Fprintf(w, "             source: %s\n", m.Source)
		fmt.Fprintf(w, "          installed: %s\n", m.InstalledAt.Format(time.RFC3339))
		fmt.Fprintf(w, "            on disk: %s\n", onDisk)
		if m.Cached {
			fmt.Fprintf(w, "            archive: kept in the archive cache (a reinstall or repair fetches nothing)\n")
		}
	}
	if doc.ArchiveCacheProblem != "" {
		fmt.Fprintf(w, "\n  Archive cache: not read: %s\n", doc.ArchiveCacheProblem)
	}
	if u := doc.ArchiveCache; u.Entries > 0 {
		fmt.Fprintf(w, "\n  Archive cache: %d archives, %s in %s\n", u.Entries, humanize.IBytes(uint64(u.Bytes)), install.StatePathFor(doc.Dir, install.ArchiveCacheName))
	}
	if len(doc.Unmanaged) > 0 {
		fmt.Fprintf(w, "\n  Not managed by mms (never replaced or removed): %s\n", strings.Join(doc.Unmanaged, ", "))
	}
	if len(doc.GoChoriaManagers) > 0 {
		fmt.Fprintf(w, "\n  go-choria manager directories:\n")
		for _, m := range doc.GoChoriaManagers {
			if m.GoChoria {
				fmt.Fprintf(w, "    %s: go-choria's manager of %s (%s): retired once mms adopts or replaces %s\n", m.Dir, m.Machine, m.Source, m.Machine)
			} else {
				fmt.Fprintf(w, "    %s: left alone: %s\n", m.Dir, m.Problem)
			}
		}
	}
	for _, p := range doc.Pending {
		fmt.Fprintf(w, "\n  Unfinished %s of %s (resolved by the next reconcile)\n", p.Op, p.Name)
	}
	if lr := doc.LastReconcile; lr != nil {
		printLast(w, lr)
	}
}

// printLast prints the outcome of mms agent's last reconcile.
func printLast(w io.Writer, lr *lastReport) {
	from := fmt.Sprintf("revision %d", lr.Revision)
	if lr.Trigger == string(nodeloop.TriggerApply) {
		from = "a specification file"
	}
	fmt.Fprintf(w, "\nLast reconcile: %s, %s (%s), took %s\n", lr.At.Format(time.RFC3339), from, lr.Trigger, lr.Duration.Round(time.Millisecond))
	if lr.Refused != "" {
		fmt.Fprintf(w, "  specification REFUSED, nothing changed: %s\n", lr.Refused)
		return
	}
	for _, r := range lr.Results {
		status := string(r.Action)
		if r.Failed {
			status += " FAILED"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", status, r.Name, r.Reason)
	}
}

// handPlaced lists the machine directories in dir that mms does not manage, skipping
// dot-prefixed entries (mms's own, and ones Choria ignores); the machines that have a
// directory named like a go-choria manager (mm_NAME) come apart, as managers.
func handPlaced(dir string, rec install.Record) (others, managers []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range entries {
		name := e.Name()
		if _, managed := rec.Machines[name]; managed || !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if machine, ok := strings.CutPrefix(name, machines.GoChoriaManagerPrefix+"_"); ok && spec.ValidName(machine) == nil {
			managers = append(managers, machine)
			continue
		}
		others = append(others, name)
	}
	return others, managers
}
