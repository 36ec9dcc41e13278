package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"text/tabwriter"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/nodeloop"
)

func init() { registerCommand(configureApply) }

type applyCommand struct {
	node   nodeFlags
	file   string
	dryRun bool
	reset  bool
	json   bool
}

func configureApply(app *fisk.Application) {
	c := &applyCommand{}
	cmd := app.Command("apply", "Reconciles a machines directory with a specification once (bootstrap, cron, tests)").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file (- for standard input)").Required().StringVar(&c.file)
	c.node.register(cmd, nodeloop.ScopeReconcile)
	cmd.Flag("dry-run", "Prints the plan and changes nothing").UnNegatableBoolVar(&c.dryRun)
	cmd.Flag("reset-rollback", "Forgets the specification version accepted before in DIR, so that a lower one applies (on purpose only)").UnNegatableBoolVar(&c.reset)
	jsonFlag(cmd, &c.json)
}

// applyDoc is what mms apply did, or with --dry-run would do, and its --json output (schema
// "mms.apply.v1").
type applyDoc struct {
	Schema string `json:"schema"`
	// DryRun is true when nothing was changed: the results are the plan.
	DryRun bool    `json:"dry_run"`
	Dir    string  `json:"dir"`
	Node   nodeDoc `json:"node"`
	// Refused says why the specification as a whole was refused (nothing changed); absent
	// when it was accepted.
	Refused string `json:"refused,omitempty"`
	Format  int    `json:"format,omitempty"`
	Version int64  `json:"version,omitempty"`
	Signed  bool   `json:"signed"`
	// Unknown are fields this mms does not know, which it ignored.
	Unknown []string         `json:"unknown"`
	Results []applyResultDoc `json:"results"`
	// Failed counts the entries refused or failed (exit code 1 when not 0).
	Failed int `json:"failed"`
}

// applyResultDoc is one step's result in an applyDoc.
type applyResultDoc struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Failed bool   `json:"failed"`
	Reason string `json:"reason"`
	// DurationMS is how long it took, in milliseconds; 0 in a dry run.
	DurationMS float64 `json:"duration_ms"`
	// Wave, Waves and WaveShare are, in a dry run, the node's wave of the entry's change, as
	// in mms.match.v1: for an entry with a rollout policy whose matcher is true on the node;
	// absent otherwise.
	Wave      int    `json:"wave,omitempty"`
	Waves     int    `json:"waves,omitempty"`
	WaveShare string `json:"wave_share,omitempty"`
}

// addWaves gives each result of d, a dry run of plan for node within limits, the node's wave
// of its entry's change: for every entry with a rollout policy whose matcher is true on the
// node, whatever the plan does with it (this host may not stage it, or the gate may hold it).
func addWaves(d *applyDoc, plan *machines.Plan, node match.Node, limits match.Limits) {
	if plan == nil || plan.Spec == nil {
		return
	}
	waves := map[string]waveDoc{}
	for i, m := range machines.MatchAll(plan.Spec, node, limits) {
		if e := plan.Spec.Entries[i]; m.OK && m.Err == nil && e.Rollout != nil {
			waves[e.Name] = waveOf(node.Identity, e)
		}
	}
	for i, r := range d.Results {
		if w, ok := waves[r.Name]; ok {
			d.Results[i].Wave, d.Results[i].Waves, d.Results[i].WaveShare = w.Wave, w.Waves, w.Share
		}
	}
}

// newApplyDoc describes rep, the outcome of applying (or planning, when dryRun) to dir.
func newApplyDoc(rep *machines.Report, dir string, node nodeDoc, dryRun bool) applyDoc {
	d := applyDoc{Schema: "mms.apply.v1", DryRun: dryRun, Dir: dir, Node: node, Format: rep.Format, Version: rep.Version,
		Signed: rep.Signed, Unknown: append([]string{}, rep.Unknown...), Results: []applyResultDoc{}}
	if rep.Err != nil {
		d.Refused = rep.Err.Error()
	}
	for _, r := range rep.Results {
		d.Results = append(d.Results, applyResultDoc{Name: r.Name, Action: string(r.Action), Failed: r.Failed(), Reason: r.Reason,
			DurationMS: float64(r.Duration.Microseconds()) / 1000})
		if r.Failed() {
			d.Failed++
		}
	}
	return d
}

func (c *applyCommand) run() error {
	cfg, err := c.node.config()
	if err != nil {
		return err
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	if c.reset && c.dryRun {
		return usageError("--reset-rollback cannot be previewed with --dry-run")
	}
	cfg.ResetRollback = c.reset
	var rep *machines.Report
	var plan *machines.Plan
	if c.dryRun {
		plan, rep = machines.Preview(cfg, data)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		bar := newDownloadBar(os.Stderr)
		if bar != nil && !c.node.quiet {
			cfg.Progress = bar.report
		}
		rep = machines.Reconcile(ctx, cfg, data)
		bar.finish()
		// What mms status shows as the last outcome, a hint (a failure to write it is only
		// logged). A refused specification changes nothing on disk, not even this; its reason
		// is what this command prints.
		if rep.Err == nil {
			if err := nodeloop.WriteLastReport(cfg.Dir, nodeloop.Outcome{Triggers: []nodeloop.Trigger{nodeloop.TriggerApply}, Report: rep}); err != nil {
				cfg.Logger.Warn("could not save the outcome for mms status", "error", err)
			}
		}
	}
	doc := newApplyDoc(rep, cfg.Dir, describeNode(cfg.Node, c.node.identity, c.node.facts), c.dryRun)
	if c.dryRun {
		addWaves(&doc, plan, cfg.Node, cfg.Matcher)
	}
	if c.json {
		if err := writeJSON(os.Stdout, doc); err != nil {
			return err
		}
	}
	if rep.Err != nil {
		return fmt.Errorf("apply %s to %s: %w", c.file, cfg.Dir, rep.Err)
	}
	if !c.json {
		printReport(os.Stdout, rep, doc)
	}
	if doc.Failed > 0 {
		return fmt.Errorf("apply %s to %s: %d of %d entries were refused or failed", c.file, cfg.Dir, doc.Failed, len(rep.Results))
	}
	return nil
}

// printReport prints the node, then one line per entry: action, name, reason and, when
// applied, duration. A dry run says so first, and gives the node's wave of each entry with a
// rollout policy that it takes.
func printReport(w io.Writer, rep *machines.Report, doc applyDoc) {
	planOnly := doc.DryRun
	waves := planOnly && slices.ContainsFunc(doc.Results, func(r applyResultDoc) bool { return r.Wave > 0 })
	if planOnly {
		fmt.Fprintf(w, "DRY RUN: nothing was changed; this is what mms apply would do in %s\n", doc.Dir)
	}
	fmt.Fprintln(w, doc.Node)
	signed := "unsigned"
	if rep.Signed {
		signed = "signed"
	}
	if rep.Format == 2 {
		fmt.Fprintf(w, "Specification v2 version %d (%s)\n", rep.Version, signed)
	} else {
		fmt.Fprintf(w, "Specification v1 (%s)\n", signed)
	}
	for _, u := range rep.Unknown {
		fmt.Fprintf(w, "note: %s is not known to this mms and is ignored\n", u)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, r := range rep.Results {
		status := string(r.Action)
		if r.Err != nil && r.Action != machines.ActionRefuse {
			status += " FAILED"
		}
		if waves {
			d := doc.Results[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, r.Name, r.Reason, waveDoc{d.Wave, d.Waves, d.WaveShare})
		} else if planOnly {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", status, r.Name, r.Reason)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, r.Name, r.Reason, r.Duration.Round(1e6))
		}
	}
	tw.Flush()
}
