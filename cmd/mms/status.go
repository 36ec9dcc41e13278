package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
	"github.com/mms-io/mms/nodeloop"
	"gopkg.in/yaml.v3"
)

// stateFile is the install record of a machines directory, as messages name it.
var stateFile = filepath.Join(install.StateDirName, install.RecordName)

func init() { registerCommand(configureStatus) }

type statusCommand struct {
	dir string
}

func configureStatus(app *fisk.Application) {
	c := &statusCommand{}
	cmd := app.Command("status", "Shows what mms manages in a machines directory, whether its files verify now, and the outcome of the last reconcile; exits 0 when healthy, 1 when degraded, 2 on a usage error or an unreadable record").Action(action(c.run))
	cmd.Flag("dir", "The machines directory (e.g. /etc/choria/machines)").Required().ExistingDirVar(&c.dir)
}

// run reads the record without taking the directory's lock, so that it works while an agent
// runs: the record is always replaced atomically, so what it reads is one complete version.
func (c *statusCommand) run() error {
	path := install.StatePathFor(c.dir, install.RecordName)
	data, err := os.ReadFile(path)
	w := os.Stdout
	var rec install.Record
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(w, "mms manages nothing in %s yet (no %s)\n", c.dir, stateFile)
		printUnmanaged(w, c.dir, rec)
		return c.printLast(w)
	case err != nil:
		return &exitError{code: 2, err: fmt.Errorf("status %s: %w", c.dir, err)}
	}
	if rec, err = install.DecodeRecord(data); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("status %s: read %s: %w", c.dir, path, err)}
	}
	fmt.Fprintf(w, "Machines directory %s\n", c.dir)
	if a := rec.Accepted; a != nil {
		if a.Format == 2 {
			fmt.Fprintf(w, "  Accepted specification: v2 version %d, digest %s, at %s\n", a.Version, a.Digest, a.At.UTC().Format(time.RFC3339))
		} else {
			fmt.Fprintf(w, "  Accepted specification: v1, digest %s, at %s\n", a.Digest, a.At.UTC().Format(time.RFC3339))
		}
	} else {
		fmt.Fprintf(w, "  Accepted specification: none yet\n")
	}
	names := make([]string, 0, len(rec.Machines))
	for name := range rec.Machines {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  Managed machines: %d\n", len(names))
	var degraded []string
	for _, name := range names {
		m := rec.Machines[name]
		target := filepath.Join(c.dir, name)
		onDisk := "present, verified"
		if fi, err := os.Lstat(target); err != nil || !fi.IsDir() {
			onDisk = "MISSING (the next reconcile reinstalls it)"
			degraded = append(degraded, name+" is missing")
		} else if why := verifyNow(target, m); why != "" {
			onDisk = "present, FAILS verification (the next reconcile repairs it): " + why
			degraded = append(degraded, name+" fails verification")
		}
		fmt.Fprintf(w, "\n  %s\n", name)
		if v := machineVersion(target); v != "" {
			fmt.Fprintf(w, "            version: %s\n", v)
		}
		fmt.Fprintf(w, "           checksum: %s\n", m.Checksum)
		fmt.Fprintf(w, "    verify_checksum: %s\n", m.VerifyChecksum)
		fmt.Fprintf(w, "             source: %s\n", fetch.Source{URL: m.Source}) // records of older mms kept more of the URL
		fmt.Fprintf(w, "          installed: %s\n", m.InstalledAt.UTC().Format(time.RFC3339))
		fmt.Fprintf(w, "            on disk: %s\n", onDisk)
	}
	printUnmanaged(w, c.dir, rec)
	for name, in := range rec.Pending {
		fmt.Fprintf(w, "\n  Unfinished %s of %s (resolved by the next reconcile)\n", in.Op, name)
	}
	if err := c.printLast(w); err != nil {
		return err
	}
	if last, ok, _ := readLastReport(c.dir); ok && last.Refused != "" {
		degraded = append(degraded, "the last specification was refused")
	} else if ok {
		for _, r := range last.Results {
			if r.Failed {
				degraded = append(degraded, "the last reconcile failed for "+r.Name)
			}
		}
	}
	if len(degraded) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("degraded: %s", strings.Join(degraded, "; "))}
	}
	return nil
}

// verifyNow re-verifies a managed machine as the next reconcile would (its files by their
// stamps, its SHA256SUMS, what it holds beyond it), reading only, and says what fails.
func verifyNow(target string, m install.Managed) string {
	files, err := sums.VerifyTree(target, m.VerifyChecksum, m.Files, false)
	if err != nil {
		return err.Error()
	}
	strays, err := sums.FindStrays(target, files)
	if err != nil {
		return err.Error()
	}
	if !strays.Empty() {
		return strays.String()
	}
	return ""
}

// maxMachineYAML bounds what is read of a machine.yaml for its version.
const maxMachineYAML = 1 << 20

// machineVersion returns the version a machine's machine.yaml declares, "" when it says none.
func machineVersion(target string) string {
	f, err := os.Open(filepath.Join(target, "machine.yaml"))
	if err != nil {
		return ""
	}
	defer f.Close()
	var def struct {
		Version string `yaml:"version"`
	}
	if err := yaml.NewDecoder(io.LimitReader(f, maxMachineYAML)).Decode(&def); err != nil {
		return ""
	}
	return def.Version
}

// printLast prints the outcome of mms agent's last reconcile, when there is one.
func (c *statusCommand) printLast(w io.Writer) error {
	lr, ok, err := readLastReport(c.dir)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("status %s: %w", c.dir, err)}
	}
	if !ok {
		return nil
	}
	from := fmt.Sprintf("revision %d", lr.Revision)
	if lr.Trigger == string(nodeloop.TriggerApply) {
		from = "a specification file"
	}
	fmt.Fprintf(w, "\nLast reconcile: %s, %s (%s), took %s\n", lr.At.Format(time.RFC3339), from, lr.Trigger, lr.Duration.Round(time.Millisecond))
	if lr.Refused != "" {
		fmt.Fprintf(w, "  specification REFUSED, nothing changed: %s\n", lr.Refused)
		return nil
	}
	for _, r := range lr.Results {
		status := string(r.Action)
		if r.Failed {
			status += " FAILED"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", status, r.Name, r.Reason)
	}
	return nil
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

// printUnmanaged lists the machines mms does not manage and go-choria's manager directories.
func printUnmanaged(w io.Writer, dir string, rec install.Record) {
	others, managers := handPlaced(dir, rec)
	if len(others) > 0 {
		fmt.Fprintf(w, "\n  Not managed by mms (never replaced or removed): %s\n", strings.Join(others, ", "))
	}
	printGoChoriaManagers(w, dir, managers)
}

// printGoChoriaManagers says, for each mm_NAME directory, what the next reconcile does with it:
// go-choria's own rendering is retired once mms manages NAME; anything else is left alone.
func printGoChoriaManagers(w io.Writer, dir string, machineNames []string) {
	if len(machineNames) == 0 {
		return
	}
	fmt.Fprintf(w, "\n  go-choria manager directories:\n")
	for _, name := range machineNames {
		m, err := machines.FindGoChoriaManager(dir, name)
		switch {
		case err != nil:
			fmt.Fprintf(w, "    %s: left alone: %v\n", machines.GoChoriaManagerDir(name), err)
		case m != nil:
			fmt.Fprintf(w, "    %s: go-choria's manager of %s (%s): retired once mms adopts or replaces %s\n", m.Dir, name, m.Source, name)
		}
	}
}
