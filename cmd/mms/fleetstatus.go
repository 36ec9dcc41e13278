package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go/jetstream"
)

// fleetFlags are mms status --fleet's.
type fleetFlags struct {
	on       bool
	kv       kvFlags
	bucket   string
	identity string
	machine  string
	state    string
	watch    bool
}

func (f *fleetFlags) register(cmd *fisk.CmdClause) {
	cmd.Flag("fleet", "Shows what every node reports in the status bucket instead of one directory").UnNegatableBoolVar(&f.on)
	f.kv.register(cmd, "With --fleet: the NATS server URL (default: "+defaultServer+")")
	f.kv.registerProfiles(cmd)
	cmd.Flag("status-bucket", "With --fleet: the bucket the nodes report to").Default(fleet.DefaultBucket).StringVar(&f.bucket)
	cmd.Flag("identity", "With --fleet: only the nodes whose identity matches this regular expression").PlaceHolder("REGEX").StringVar(&f.identity)
	cmd.Flag("machine", "With --fleet: only the nodes that report this machine").StringVar(&f.machine)
	cmd.Flag("state", "With --fleet: only the nodes in this state ("+strings.Join(stateNames(), ", ")+")").EnumVar(&f.state, stateNames()...)
	cmd.Flag("watch", "With --fleet: redraws as statuses arrive, until interrupted").UnNegatableBoolVar(&f.watch)
}

func stateNames() []string {
	names := make([]string, len(fleet.States))
	for i, s := range fleet.States {
		names[i] = string(s)
	}
	return names
}

// fleetDoc is mms status --fleet's --json output (schema "mms.fleet-status.v1").
type fleetDoc struct {
	Schema string `json:"schema"`
	Bucket string `json:"bucket"`
	fleet.Summary
	// Skipped counts values in the bucket that are not a node status of this schema.
	Skipped int `json:"skipped"`
}

func (f *fleetFlags) run(dir string, asJSON bool) error {
	if asJSON && f.watch {
		return usageError("--watch redraws a screen: it does not go with --json")
	}
	if err := kvspec.CheckBucket(f.bucket); err != nil {
		return usageError("--status-bucket: %v", err)
	}
	filter := fleet.Filter{Machine: f.machine, State: fleet.State(f.state)}
	if f.identity != "" {
		re, err := regexp.Compile(f.identity)
		if err != nil {
			return usageError("--identity %q: %v", f.identity, err)
		}
		filter.Identity = re
	}
	f.kv.dir = dir
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	url, err := f.kv.serverURL()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	nc, js, err := f.kv.connect(cctx, url)
	cancel()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer nc.Close()
	if f.watch {
		return f.watchFleet(ctx, js, filter)
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout+connectTimeout)
	defer cancel()
	doc, err := f.read(rctx, js, url, filter)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if asJSON {
		if err := writeJSON(os.Stdout, doc); err != nil {
			return err
		}
	} else {
		printFleet(os.Stdout, doc, time.Now())
	}
	if !doc.Converged {
		return &exitError{code: 1, err: fmt.Errorf("not converged: %s", countsText(doc.Counts))}
	}
	return nil
}

// The exit code is 1 when no node reports (all offline, or none picked by the filters): a
// check that passes on an empty fleet would pass on a typo in --identity.

// read reads the bucket and the published specification, and summarises them.
func (f *fleetFlags) read(ctx context.Context, js jetstream.JetStream, url string, filter fleet.Filter) (fleetDoc, error) {
	statuses, skipped, err := fleet.Read(ctx, js, f.bucket)
	if errors.Is(err, kvspec.ErrNoBucket) {
		return fleetDoc{}, fmt.Errorf("%w: no node has reported to %s yet (mms put creates it; nodes publish with --status-bucket, the watcher's status_bucket property)", err, f.bucket)
	}
	if err != nil {
		return fleetDoc{}, f.kv.natsHint(err, url)
	}
	target := f.target(ctx, js)
	return fleetDoc{Schema: "mms.fleet-status.v1", Bucket: f.bucket, Summary: fleet.Summarize(statuses, target, filter, time.Now()), Skipped: skipped}, nil
}

// target is the published specification, which nodes converge on; zero when it cannot be
// read (then the newest any node accepted is the target).
func (f *fleetFlags) target(ctx context.Context, js jetstream.JetStream) fleet.Target {
	e, err := kvspec.Get(ctx, js, f.kv.bucket, f.kv.key)
	if err != nil {
		return fleet.Target{}
	}
	t := fleet.Target{Revision: e.Revision}
	if s, err := spec.Open(e.Value, spec.Trust{InsecureAllowUnsigned: true}); err == nil {
		t.Version, t.Digest = s.Version, s.Digest
	}
	return t
}

// watchFleet redraws the summary whenever a status arrives (at most a few times a second),
// until ctx ends. It keeps the newest status of each node from the watch itself, which
// delivers every current value and then each new one, rather than reading the bucket again.
func (f *fleetFlags) watchFleet(ctx context.Context, js jetstream.JetStream, filter fleet.Filter) error {
	updates, err := fleet.Watch(ctx, js, f.bucket)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	scr := newScreen(os.Stdout)
	redraw := time.NewTicker(250 * time.Millisecond)
	defer redraw.Stop()
	latest := map[string]fleet.Status{}
	dirty := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case s, ok := <-updates:
			if !ok {
				return nil
			}
			latest[s.Identity] = s
			dirty = true
		case <-redraw.C:
			if !dirty {
				continue
			}
			dirty = false
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			target := f.target(rctx, js)
			cancel()
			doc := fleetDoc{Schema: "mms.fleet-status.v1", Bucket: f.bucket,
				Summary: fleet.Summarize(slices.Collect(maps.Values(latest)), target, filter, time.Now())}
			scr.draw(func(w io.Writer) { printFleet(w, doc, time.Now()) })
		}
	}
}

// printFleet prints doc as text: the counts, then each node not converged, then repairs.
func printFleet(w io.Writer, doc fleetDoc, now time.Time) {
	t := "the newest specification any node accepted"
	if doc.Target.Revision != 0 {
		t = fmt.Sprintf("the published specification (revision %d", doc.Target.Revision)
		if doc.Target.Version != 0 {
			t += fmt.Sprintf(", version %d", doc.Target.Version)
		}
		t += ")"
	}
	fmt.Fprintf(w, "%d nodes in %s, against %s: %s\n", len(doc.Nodes), doc.Bucket, t, countsText(doc.Counts))
	if len(doc.Nodes) == doc.Counts[fleet.StateOffline] {
		fmt.Fprintf(w, "No node reports (exit code 1): is the bucket the nodes report to %s, and do the filters pick any?\n", doc.Bucket)
	}
	if doc.Skipped > 0 {
		fmt.Fprintf(w, "(%d values in the bucket are not node statuses, skipped)\n", doc.Skipped)
	}
	byVersion := map[int64]int{}
	for _, n := range doc.Nodes {
		if n.State == fleet.StateConverged && n.Spec != nil {
			byVersion[n.Spec.Version]++
		}
	}
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		fmt.Fprintf(w, "  converged on version %d: %d\n", v, byVersion[v])
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, state := range fleet.States[1:] {
		for _, n := range doc.Nodes {
			if n.State == state {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", state, n.Identity, nodeDetail(n, now))
			}
		}
	}
	tw.Flush()
	for _, n := range doc.Nodes {
		for _, r := range n.Repairs {
			fmt.Fprintf(w, "  repaired (drift) %s: %s at %s\n", n.Identity, r.Machine, r.At.Format(time.RFC3339))
		}
	}
}

// nodeDetail says why a node is not converged.
func nodeDetail(n fleet.Node, now time.Time) string {
	age := time.Duration(n.AgeSeconds) * time.Second
	on := "no specification yet"
	if n.Spec != nil {
		on = fmt.Sprintf("on version %d (revision %d)", n.Spec.Version, n.Spec.Revision)
	}
	switch n.State {
	case fleet.StateOffline:
		return fmt.Sprintf("last reported %s ago, %s, %s then", age, on, n.Outcome)
	case fleet.StateRefused:
		if n.Refused == nil { // fleet.Decode refuses such a status; a Node made otherwise may hold one
			return "refused (no reason given), still " + on
		}
		return fmt.Sprintf("refused revision %d: %s (still %s)", n.Refused.Revision, n.Refused.Reason, on)
	case fleet.StateFailed:
		var errs []string
		if n.NodeError != "" {
			errs = append(errs, "the node: "+n.NodeError)
		}
		for _, m := range n.Machines {
			if m.Error != "" {
				errs = append(errs, m.Name+": "+m.Error)
			}
		}
		return strings.Join(errs, "; ")
	}
	var staged []string
	for _, m := range n.Machines {
		if r := m.Rollout; r != nil && r.Phase != nodeloop.PhaseHealthy {
			staged = append(staged, fmt.Sprintf("%s %s in wave %d of %d: %s", m.Name, r.Phase, r.Wave, r.Waves, r.Reason))
		}
	}
	switch {
	case len(staged) > 0:
		on += "; " + strings.Join(staged, "; ")
	case n.Outcome == fleet.OutcomeConverging:
		on += ", converging (a later reconcile finishes taking a machine over from go-choria)"
	}
	return fmt.Sprintf("%s, reported %s ago", on, age)
}

// countsText says how many nodes are in each state.
func countsText(counts map[fleet.State]int) string {
	var parts []string
	for _, s := range fleet.States {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if len(parts) == 0 {
		return "no nodes"
	}
	return strings.Join(parts, ", ")
}
