package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go/jetstream"
)

type rolloutStatusCommand struct {
	flags     rolloutFlags
	entries   []string
	json      bool
	watch     bool
	interval  time.Duration
	heartbeat time.Duration
}

func configureRolloutStatus(parent *fisk.CmdClause) {
	c := &rolloutStatusCommand{}
	cmd := parent.Command("status", "Shows each staged entry's waves (share, members, installed, waiting, healthy, unhealthy, reverted), which are open, and whether the change is halted, paused or promoted; exits 0 whatever the rollouts' state").Action(action(c.run))
	cmd.Arg("entry", "Entries to show (default: every entry with a rollout policy)").StringsVar(&c.entries)
	c.flags.register(cmd, "A public key the nodes trust: the specification must verify with one of them, and only a resume or promotion one of them signed is shown as taken; repeat for rotation (without any, resumes and promotions are shown unverified)")
	jsonFlag(cmd, &c.json)
	cmd.Flag("watch", "Redraws every --interval until interrupted").UnNegatableBoolVar(&c.watch)
	cmd.Flag("interval", "With --watch: how often to read the gate again").Default("2s").DurationVar(&c.interval)
	cmd.Flag("status-heartbeat", "The nodes' status heartbeat (their --status-heartbeat, the watcher's status_heartbeat): the gate stops waiting on a wave's silent nodes after three, and so does this judgement").Default(fleet.DefaultHeartbeat.String()).DurationVar(&c.heartbeat)
}

// rolloutStatusDoc is mms rollout status's --json output (schema "mms.rollout-status.v1").
type rolloutStatusDoc struct {
	Schema string `json:"schema"`
	// From names the specification read: BUCKET/KEY revision N (stored TIME).
	From string `json:"from"`
	KV   kvDoc  `json:"kv"`
	// Gate is false while the rollout gate does not exist (no node has registered in any
	// wave yet): every count is 0 then.
	Gate bool `json:"gate"`
	// KeysGiven counts --public-key; with none, resumes and promotions are taken unverified.
	KeysGiven int `json:"keys_given"`
	// ReadAt is when the gate was read, which the judgement of each wave is as of.
	ReadAt  time.Time         `json:"read_at"`
	Entries []rolloutEntryDoc `json:"entries"`
}

// rolloutEntryDoc is one staged entry's change in a rolloutStatusDoc.
type rolloutEntryDoc struct {
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
	// Change is the change's ID in the gate (gate.ChangeID of the name and checksum).
	Change string      `json:"change"`
	Policy *rolloutDoc `json:"policy"`
	// State is "halted", "paused", "waiting" (a wave's gate is still shut) or "open" (every
	// wave's gate is open).
	State string `json:"state"`
	// OpenWaves is how many waves, from the first, a node may install the change in now.
	OpenWaves int `json:"open_waves"`
	// Reason says why the next wave is shut; absent when every wave is open.
	Reason string `json:"reason,omitempty"`
	// Halted is true when the change is halted: Halt is the halt a node recorded, and
	// BudgetExceeded says how the counts exceed max_unhealthy (set before a node records it).
	Halted         bool          `json:"halted"`
	Halt           *rollout.Note `json:"halt,omitempty"`
	BudgetExceeded string        `json:"budget_exceeded,omitempty"`
	// Paused is true while a pause is not lifted by a later resume.
	Paused bool          `json:"paused"`
	Pause  *rollout.Note `json:"pause,omitempty"`
	Resume *rollout.Note `json:"resume,omitempty"`
	// PromotedTo is the wave (from 1) a promotion opens up to; 0 for none.
	PromotedTo int `json:"promoted_to"`
	// ControlsVerified is true when Resume and PromotedTo were checked against the keys given;
	// RefusedControls says which controls their signatures did not pass.
	ControlsVerified bool             `json:"controls_verified"`
	RefusedControls  []string         `json:"refused_controls"`
	Waves            []rolloutWaveDoc `json:"waves"`
	Total            rolloutCountsDoc `json:"total"`
}

// rolloutCountsDoc are the counts of a wave, or of all of them.
type rolloutCountsDoc struct {
	// Members registered in the wave (they saw the change); Installed took it; Waiting have
	// not (members − installed).
	Members   int64 `json:"members"`
	Installed int64 `json:"installed"`
	Waiting   int64 `json:"waiting"`
	Healthy   int64 `json:"healthy"`
	Unhealthy int64 `json:"unhealthy"`
	Reverted  int64 `json:"reverted"`
}

// rolloutWaveDoc is one wave of a rolloutEntryDoc.
type rolloutWaveDoc struct {
	// Wave counts from 1; Share is its cumulative share of the nodes, as the policy writes it.
	Wave  int    `json:"wave"`
	Share string `json:"share"`
	rolloutCountsDoc
	// Started is true once a member installed the change.
	Started bool `json:"started"`
	// Open says a node of this wave may install the change now; Gate says why or why not,
	// and Until when a bake it waits on ends.
	Open  bool      `json:"open"`
	Gate  string    `json:"gate"`
	Until time.Time `json:"until,omitzero"`
	// Changed is when a counter of the wave last changed; absent when none ever did.
	Changed time.Time `json:"changed,omitzero"`
}

func (c *rolloutStatusCommand) run() error {
	if c.watch && c.json {
		return usageError("--watch redraws a screen: it does not go with --json")
	}
	if c.interval < minWatchInterval {
		return usageError("--interval %v: the shortest is %v", c.interval, minWatchInterval)
	}
	if c.heartbeat < minStatusHeartbeat {
		return usageError("--status-heartbeat %v: the shortest is %v", c.heartbeat, minStatusHeartbeat)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := c.flags.connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer conn.close()
	if c.watch {
		newScreen(os.Stdout).every(ctx, c.interval, func(ctx context.Context) (func(io.Writer), error) {
			doc, err := c.read(ctx, conn)
			if err != nil {
				return nil, err
			}
			return func(w io.Writer) { printRolloutStatus(w, doc) }, nil
		})
		return nil
	}
	doc, err := c.read(ctx, conn)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(os.Stdout, doc)
	}
	printRolloutStatus(os.Stdout, doc)
	return nil
}

// read reads the specification and the gate of each staged entry, and judges each wave.
func (c *rolloutStatusCommand) read(ctx context.Context, conn *rolloutConn) (*rolloutStatusDoc, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*requestTimeout)
	defer cancel()
	p, err := conn.readSpec(ctx, "rollout status")
	if err != nil {
		return nil, err
	}
	entries, err := p.staged("rollout status", c.entries)
	if err != nil {
		return nil, err
	}
	doc := &rolloutStatusDoc{Schema: "mms.rollout-status.v1", From: p.Where,
		KV:        kvDoc{Bucket: conn.flags.kv.bucket, Key: conn.flags.kv.key, Revision: p.Revision, Stored: p.Created.UTC()},
		KeysGiven: len(conn.keys), Entries: []rolloutEntryDoc{}}
	store, err := openGate(ctx, conn.js)
	if err != nil {
		return nil, conn.flags.kv.natsHint(err, conn.url)
	}
	doc.Gate = store != nil
	doc.ReadAt = time.Now().UTC()
	for _, e := range entries {
		id := gate.ChangeID(e.Name, e.Checksum)
		var tally rollout.Tally
		var ctl rollout.Controls
		var refused []string
		if store != nil {
			if tally, err = store.Tally(ctx, id); err != nil {
				return nil, fmt.Errorf("rollout status %q: %w", e.Name, err)
			}
			if ctl, refused, err = store.Controls(ctx, id, conn.keys); err != nil {
				return nil, fmt.Errorf("rollout status %q: %w", e.Name, err)
			}
		}
		// A node waits for the earlier waves to register from when it saw the change; the
		// nodes see it the moment this revision was stored.
		g := rollout.Gate{Bake: e.Rollout.Bake, Budget: e.Rollout.MaxUnhealthy, Quiet: fleet.FreshFor(c.heartbeat), Seen: p.Created}
		ed := judgeRollout(e, g, tally, ctl, doc.ReadAt)
		ed.ControlsVerified, ed.RefusedControls = len(conn.keys) > 0, append([]string{}, refused...)
		doc.Entries = append(doc.Entries, ed)
	}
	return doc, nil
}

// openGate opens the rollout gate without creating it; nil, with no error, when it does not
// exist yet (no node has registered in any wave).
func openGate(ctx context.Context, js jetstream.JetStream) (*gate.Store, error) {
	store, err := gate.Open(ctx, js, gate.Options{})
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	return store, err
}

// judgeRollout describes entry e's change from its counts and controls as a node of each wave
// would judge them at now (g is the gate of the first wave; judgeRollout sets the wave).
func judgeRollout(e spec.Entry, g rollout.Gate, tally rollout.Tally, ctl rollout.Controls, now time.Time) rolloutEntryDoc {
	d := rolloutEntryDoc{Name: e.Name, Checksum: e.Checksum, Change: gate.ChangeID(e.Name, e.Checksum),
		Policy: newRolloutDoc(e.Rollout, ""), Halt: ctl.Halted, Pause: ctl.Paused, Resume: ctl.Resumed, PromotedTo: ctl.PromotedTo,
		RefusedControls: []string{}, Waves: []rolloutWaveDoc{}}
	if over, why := g.Exceeded(tally); over {
		d.BudgetExceeded = why
	}
	d.Halted = ctl.Halted != nil || d.BudgetExceeded != ""
	d.Paused = pausedBy(ctl)
	leading := true
	for k := range e.Rollout.Waves {
		g.Wave = k
		v := g.Judge(tally, ctl, now)
		w := tally.Wave(k)
		wd := rolloutWaveDoc{Wave: k + 1, Share: shareOf(e.Rollout, k), rolloutCountsDoc: counts(w),
			Started: w.Took > 0, Open: v.Open, Gate: v.Reason, Until: v.Until.UTC(), Changed: w.Changed.UTC()}
		if leading && v.Open {
			d.OpenWaves++
		} else if leading {
			leading, d.Reason = false, v.Reason
		}
		d.Waves = append(d.Waves, wd)
		t := &d.Total
		t.Members, t.Installed, t.Waiting = t.Members+wd.Members, t.Installed+wd.Installed, t.Waiting+wd.Waiting
		t.Healthy, t.Unhealthy, t.Reverted = t.Healthy+wd.Healthy, t.Unhealthy+wd.Unhealthy, t.Reverted+wd.Reverted
	}
	switch {
	case d.Halted:
		d.State = "halted"
	case d.Paused:
		d.State = "paused"
	case d.OpenWaves < len(d.Waves):
		d.State = "waiting"
	default:
		d.State = "open"
	}
	return d
}

// counts are a wave's counts; waiting is never below 0, whatever the counters say.
func counts(w rollout.WaveCount) rolloutCountsDoc {
	return rolloutCountsDoc{Members: w.Members, Installed: w.Took, Waiting: max(w.Members-w.Took, 0),
		Healthy: w.Healthy, Unhealthy: w.Unhealthy, Reverted: w.Reverted}
}

// printRolloutStatus prints doc as text: per entry, its state, controls and a table of waves.
func printRolloutStatus(w io.Writer, doc *rolloutStatusDoc) {
	fmt.Fprintf(w, "Staged rollouts of %s, read at %s\n", doc.From, doc.ReadAt.Format(time.RFC3339))
	if !doc.Gate {
		fmt.Fprintf(w, "(no rollout gate yet: no node has registered in any wave, and every count is 0)\n")
	}
	if len(doc.Entries) == 0 {
		fmt.Fprintf(w, "No entry of the specification has a rollout policy.\n")
	}
	for _, e := range doc.Entries {
		printRolloutEntry(w, e)
	}
}

// printRolloutEntry prints one entry of printRolloutStatus.
func printRolloutEntry(w io.Writer, e rolloutEntryDoc) {
	at := func(n *rollout.Note) string {
		s := fmt.Sprintf("by %s at %s", orAnOperator(n.By), n.At.UTC().Format(time.RFC3339))
		if n.Reason != "" {
			s += ": " + n.Reason
		}
		return s
	}
	fmt.Fprintf(w, "\n%s: change %s, to checksum %s\n", e.Name, e.Change, e.Checksum)
	fmt.Fprintf(w, "  policy:   %s\n", e.Policy.Summary)
	switch e.State {
	case "halted":
		why := e.BudgetExceeded
		if e.Halt != nil {
			why = fmt.Sprintf("%s (recorded %s)", e.Halt.Reason, at(&rollout.Note{By: e.Halt.By, At: e.Halt.At}))
		}
		then := "every node that took it reverts"
		if e.Policy.OnHalt == string(rollout.OnHaltHold) {
			then = "the unhealthy nodes that took it revert, the healthy keep it"
		}
		fmt.Fprintf(w, "  state:    HALTED: %s; no further node installs it, %s; only a new specification that changes %s lifts it\n", why, then, e.Name)
	case "paused":
		fmt.Fprintf(w, "  state:    PAUSED %s; no node installs it until a signed mms rollout resume\n", at(e.Pause))
	case "waiting":
		open := fmt.Sprintf("waves 1 to %d", e.OpenWaves)
		if e.OpenWaves == 1 {
			open = "wave 1"
		}
		fmt.Fprintf(w, "  state:    %s of %d open; wave %d %s\n", open, len(e.Waves), e.OpenWaves+1, e.Reason)
	default:
		fmt.Fprintf(w, "  state:    all %d waves open\n", len(e.Waves))
	}
	unverified := ""
	if !e.ControlsVerified {
		unverified = " (signature NOT VERIFIED: give --public-key, the keys the nodes trust)"
	}
	if e.Pause != nil && e.State != "paused" {
		fmt.Fprintf(w, "  paused:   %s\n", at(e.Pause))
	}
	if e.Resume != nil {
		lifted := "lifts no pause (it is older than the pause, or there is none)"
		if e.Pause != nil && e.Resume.At.After(e.Pause.At) {
			lifted = "the pause is lifted"
		}
		fmt.Fprintf(w, "  resumed:  %s; %s%s\n", at(e.Resume), lifted, unverified)
	}
	if e.PromotedTo > 0 {
		fmt.Fprintf(w, "  promoted: to wave %d%s\n", e.PromotedTo, unverified)
	}
	for _, r := range e.RefusedControls {
		fmt.Fprintf(w, "  refused:  %s\n", r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  WAVE\tSHARE\tMEMBERS\tINSTALLED\tWAITING\tHEALTHY\tUNHEALTHY\tREVERTED\tSTARTED\tGATE\n")
	row := func(wave, share string, c rolloutCountsDoc, started, gate string) {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", wave, share, c.Members, c.Installed, c.Waiting, c.Healthy, c.Unhealthy, c.Reverted, started, gate)
	}
	for _, wd := range e.Waves {
		started, gate := "no", "shut: "+wd.Gate
		if wd.Started {
			started = "yes"
		}
		if wd.Open {
			gate = "open: " + wd.Gate
		}
		row(fmt.Sprint(wd.Wave), wd.Share, wd.rolloutCountsDoc, started, gate)
	}
	row("all", "", e.Total, "", "")
	tw.Flush()
}

// orAnOperator names who wrote a control, "an operator" when it does not say.
func orAnOperator(by string) string {
	if by == "" {
		return "an operator"
	}
	return by
}
