package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

func init() { registerCommand(configureApply) }

type applyCommand struct {
	node   nodeFlags
	file   string
	dryRun bool
	reset  bool
}

func configureApply(app *fisk.Application) {
	c := &applyCommand{}
	cmd := app.Command("apply", "Reconciles a machines directory with a specification once (bootstrap, cron, tests)").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file (- for standard input)").Required().StringVar(&c.file)
	c.node.register(cmd, nodeloop.ScopeReconcile)
	cmd.Flag("dry-run", "Prints the plan and changes nothing").UnNegatableBoolVar(&c.dryRun)
	cmd.Flag("reset-rollback", "Forgets the specification version accepted before in DIR, so that a lower one applies (on purpose only)").UnNegatableBoolVar(&c.reset)
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
	if c.dryRun {
		_, rep = machines.Preview(cfg, data)
	} else {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		rep = machines.Reconcile(ctx, cfg, data)
		// What mms status shows as the last outcome, a hint (a failure to write it is only
		// logged). A refused specification changes nothing on disk, not even this; its reason
		// is what this command prints.
		if rep.Err == nil {
			if err := nodeloop.WriteLastReport(cfg.Dir, nodeloop.Outcome{Triggers: []nodeloop.Trigger{nodeloop.TriggerApply}, Report: rep}); err != nil {
				cfg.Logger.Warn("could not save the outcome for mms status", "error", err)
			}
		}
	}
	if rep.Err != nil {
		return fmt.Errorf("apply %s to %s: %w", c.file, cfg.Dir, rep.Err)
	}
	printReport(os.Stdout, rep, c.dryRun)
	if rep.Failed() {
		return fmt.Errorf("apply %s to %s: %d of %d entries were refused or failed", c.file, cfg.Dir, countFailed(rep), len(rep.Results))
	}
	return nil
}

// printReport prints one line per entry: action, name, reason and, when applied, duration.
func printReport(w io.Writer, rep *machines.Report, planOnly bool) {
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
	for _, r := range rep.Results {
		status := string(r.Action)
		if r.Err != nil && r.Action != machines.ActionRefuse {
			status += " FAILED"
		}
		if planOnly {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", status, r.Name, r.Reason)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, r.Name, r.Reason, r.Duration.Round(1e6))
		}
	}
	tw.Flush()
}

func countFailed(rep *machines.Report) int {
	n := 0
	for _, r := range rep.Results {
		if r.Failed() {
			n++
		}
	}
	return n
}
