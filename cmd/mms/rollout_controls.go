package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/machines/sums"
)

// maxNoteBytes bounds --reason and --by: every node logs them, and a control is one small
// message.
const maxNoteBytes = 1 << 10 // 1 KiB

// rolloutControlCommand is mms rollout pause, resume and promote: one control on the change of
// a staged entry.
type rolloutControlCommand struct {
	flags    rolloutFlags
	action   gate.Action
	entry    string
	checksum string
	key      string
	wave     int
	reason   string
	by       string
}

func configureRolloutControls(parent *fisk.CmdClause) {
	configureRolloutControl(parent, gate.ActionPause, "Pauses the change of a staged entry: no node that has not installed it yet installs it, in any wave, until a signed resume; needs no key (whoever may write the gate's bucket may pause), and every node logs who paused and why")
	configureRolloutControl(parent, gate.ActionResume, "Lifts the pause of a staged entry's change, signed by a key the nodes trust (every node refuses, and logs, a resume no trusted key signed); refused when the change is not paused, or halted")
	configureRolloutControl(parent, gate.ActionPromote, "Opens the waves of a staged entry's change up to --wave at once, without waiting for the earlier ones to report healthy and bake, signed by a key the nodes trust; a pause or a halt still stops it")
}

func configureRolloutControl(parent *fisk.CmdClause, a gate.Action, help string) {
	c := &rolloutControlCommand{action: a}
	cmd := parent.Command(string(a), help).Action(action(c.run))
	cmd.Arg("entry", "The entry of the published specification whose change to "+string(a)).Required().StringVar(&c.entry)
	keysHelp := "A public key the nodes trust: the published specification must verify with one of them; repeat for rotation"
	if c.signed() {
		noun := map[gate.Action]string{gate.ActionResume: "resume", gate.ActionPromote: "promotion"}[a]
		signingKeyArg(cmd, "The ed25519 private key that signs the "+noun+", one whose public key the nodes trust (an argument; --key names the specification's key in the bucket)", &c.key)
		keysHelp = "A public key the nodes trust: the published specification must verify with one of them, and KEY must be the private half of one; repeat for rotation"
	}
	if a == gate.ActionPromote {
		cmd.Flag("wave", "The last wave (from 1) to open at once").Required().IntVar(&c.wave)
	}
	cmd.Flag("checksum", "The change of the entry to its archive of this sha256 (default: the checksum the published specification gives it)").PlaceHolder("SHA256").StringVar(&c.checksum)
	cmd.Flag("reason", "Why, for the nodes' logs and mms rollout status").StringVar(&c.reason)
	cmd.Flag("by", "Who asks, for the nodes' logs and mms rollout status (default: $USER@hostname)").StringVar(&c.by)
	c.flags.register(cmd, keysHelp)
}

// signed says whether the control lets a rollout go further, which only a trusted key may ask.
func (c *rolloutControlCommand) signed() bool { return c.action != gate.ActionPause }

func (c *rolloutControlCommand) run() error {
	command := "rollout " + string(c.action)
	var key ed25519.PrivateKey
	if c.signed() {
		if c.key == "" {
			return usageError("%s %s: no KEY given (the argument, or $KEY): resume and promote must be signed by a key the nodes trust; pause needs none", command, c.entry)
		}
		var err error
		if key, err = spec.LoadPrivateKey(c.key); err != nil {
			return usageError("%s %s: KEY: %v", command, c.entry, err)
		}
	}
	if c.checksum != "" && !sums.IsHex256(strings.ToLower(c.checksum)) {
		return usageError("--checksum %q: not a sha256 (64 hex characters)", c.checksum)
	}
	if len(c.reason) > maxNoteBytes || len(c.by) > maxNoteBytes {
		return usageError("--reason and --by take at most %d bytes each: every node logs them", maxNoteBytes)
	}
	by := c.by
	if by == "" {
		by = defaultOperator()
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+4*requestTimeout)
	defer cancel()
	conn, err := c.flags.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.close()
	trusted := conn.keys
	if key != nil {
		pub := key.Public().(ed25519.PublicKey)
		if len(conn.keys) > 0 && !slices.ContainsFunc(conn.keys, func(k ed25519.PublicKey) bool { return k.Equal(pub) }) {
			return usageError("%s %s: KEY's public key %s is not among the --public-key given: the nodes trusting those keys would refuse the %s", command, c.entry, hex.EncodeToString(pub), c.action)
		}
		trusted = append(slices.Clone(conn.keys), pub)
	}
	p, err := conn.readSpec(ctx, command)
	if err != nil {
		return err
	}
	staged, err := p.staged(command, []string{c.entry})
	if err != nil {
		return err
	}
	e := staged[0]
	if c.action == gate.ActionPromote && (c.wave < 1 || c.wave > len(e.Rollout.Waves)) {
		return fmt.Errorf("%s %q --wave %d: out of range: its policy in %s has %d waves (1 to %d)", command, e.Name, c.wave, p.Where, len(e.Rollout.Waves), len(e.Rollout.Waves))
	}
	checksum := e.Checksum
	if c.checksum != "" {
		checksum = strings.ToLower(c.checksum)
	}
	ch := rolloutChange{entry: e.Name, checksum: checksum, id: gate.ChangeID(e.Name, checksum)}
	store, err := gate.Ensure(ctx, conn.js, gate.Options{})
	if err != nil {
		return fmt.Errorf("%s %s: %w", command, ch, conn.flags.kv.natsHint(err, conn.url))
	}
	now, err := ch.read(ctx, store, e.Rollout, trusted)
	if err != nil {
		return fmt.Errorf("%s %s: %w", command, ch, err)
	}
	ctl := gate.Control{Action: c.action, Change: ch.id, Entry: e.Name, By: by, Reason: c.reason, At: time.Now().UTC()}
	if err := c.prepare(&ctl, now, ch); err != nil {
		return fmt.Errorf("%s %s: %w", command, ch, err)
	}
	if err := store.Put(ctx, ctl, key); err != nil {
		return fmt.Errorf("%s %s: %w", command, ch, conn.flags.kv.natsHint(err, conn.url))
	}
	after, err := ch.read(ctx, store, e.Rollout, trusted)
	if err != nil {
		return fmt.Errorf("%s %s: wrote the %s, but could not read it back: %w", command, ch, c.action, err)
	}
	return c.report(after, ch, ctl, len(e.Rollout.Waves))
}

// rolloutChange names the change a control is for.
type rolloutChange struct{ entry, checksum, id string }

// String names the change for messages: entry "web"'s change 1f… to checksum 9f86….
func (ch rolloutChange) String() string {
	return fmt.Sprintf("%q (change %s, to checksum %s)", ch.entry, ch.id, ch.checksum)
}

// changeState is what the gate says of a change, read before and after a control.
type changeState struct {
	// any are the controls whoever signed them; trusted those the keys verified (any when no
	// key is given, as the nodes that trust none take them).
	any, trusted rollout.Controls
	refused      []string
	// halted says why the change is halted ("" when it is not).
	halted string
}

// read reads the change's counts and controls.
func (ch rolloutChange) read(ctx context.Context, store *gate.Store, p *rollout.Policy, trusted []ed25519.PublicKey) (changeState, error) {
	var st changeState
	tally, err := store.Tally(ctx, ch.id)
	if err != nil {
		return st, err
	}
	if st.any, _, err = store.Controls(ctx, ch.id, nil); err != nil {
		return st, err
	}
	if st.trusted, st.refused, err = store.Controls(ctx, ch.id, trusted); err != nil {
		return st, err
	}
	if over, why := (rollout.Gate{Budget: p.MaxUnhealthy}).Exceeded(tally); over {
		st.halted = why
	}
	if h := st.trusted.Halted; h != nil {
		st.halted = h.Reason
	}
	return st, nil
}

// pausedBy says whether ctl holds a pause no later resume lifts.
func pausedBy(ctl rollout.Controls) bool {
	return ctl.Paused != nil && (ctl.Resumed == nil || !ctl.Resumed.At.After(ctl.Paused.At))
}

// prepare refuses a control that could do nothing, warns of one that does less than asked,
// and dates it so that it orders after the control it answers, whatever this machine's clock
// says: the gate orders a pause and a resume by their times.
func (c *rolloutControlCommand) prepare(ctl *gate.Control, st changeState, ch rolloutChange) error {
	switch c.action {
	case gate.ActionPause:
		// After every resume, signed or not: no earlier resume may lift this pause.
		if r := st.any.Resumed; r != nil && !ctl.At.After(r.At) {
			ctl.At = r.At.Add(time.Millisecond)
		}
		if st.halted != "" {
			fmt.Fprintf(os.Stderr, "note: the change is halted already (%s): no node installs it anyway\n", st.halted)
		} else if pausedBy(st.any) {
			fmt.Fprintf(os.Stderr, "note: replaces the pause by %s at %s\n", orAnOperator(st.any.Paused.By), st.any.Paused.At.UTC().Format(time.RFC3339))
		}
		return nil
	case gate.ActionResume:
		if st.halted != "" {
			return fmt.Errorf("the change is halted (%s): a resume cannot lift a halt; publish a specification that changes %s (a new checksum is a new change)", st.halted, ch.entry)
		}
		pause := st.trusted.Paused
		if pause == nil {
			return fmt.Errorf("the change is not paused: nothing to resume, nothing written (to open later waves at once, mms rollout promote)")
		}
		if !pausedBy(st.trusted) {
			return fmt.Errorf("the pause by %s at %s is lifted already, by the resume by %s at %s: nothing written", orAnOperator(pause.By), pause.At.UTC().Format(time.RFC3339), orAnOperator(st.trusted.Resumed.By), st.trusted.Resumed.At.UTC().Format(time.RFC3339))
		}
		if !ctl.At.After(pause.At) {
			ctl.At = pause.At.Add(time.Millisecond)
		}
		return nil
	default:
		if st.halted != "" {
			return fmt.Errorf("the change is halted (%s): a promotion cannot lift a halt; publish a specification that changes %s (a new checksum is a new change)", st.halted, ch.entry)
		}
		ctl.Wave = c.wave
		if c.wave == 1 {
			fmt.Fprintf(os.Stderr, "note: wave 1 opens at once anyway: the promotion changes nothing\n")
		}
		if old := st.trusted.PromotedTo; old > 0 && old != c.wave {
			fmt.Fprintf(os.Stderr, "note: replaces the promotion to wave %d\n", old)
		}
		if pausedBy(st.any) {
			fmt.Fprintf(os.Stderr, "warning: the change is paused (by %s): the promotion takes effect once a signed resume lifts the pause\n", orAnOperator(st.any.Paused.By))
		}
		return nil
	}
}

// report checks that the gate reads the control back as the nodes will, and says what it
// does.
func (c *rolloutControlCommand) report(st changeState, ch rolloutChange, ctl gate.Control, waves int) error {
	mismatch := func(what string) error {
		return fmt.Errorf("rollout %s %s: wrote it, but the gate reads back %s (refused: %s)", c.action, ch, what, strings.Join(st.refused, "; "))
	}
	note := "by " + ctl.By
	if ctl.Reason != "" {
		note += ": " + ctl.Reason
	}
	switch c.action {
	case gate.ActionPause:
		if !pausedBy(st.any) || !st.any.Paused.At.Equal(ctl.At) {
			return mismatch("no pause of ours")
		}
		fmt.Printf("Paused %s, %s: no node that has not installed it yet installs it until a signed mms rollout resume; every node logs the pause\n", ch, note)
	case gate.ActionResume:
		if st.trusted.Resumed == nil || !st.trusted.Resumed.At.Equal(ctl.At) || pausedBy(st.trusted) {
			return mismatch("the pause not lifted")
		}
		fmt.Printf("Resumed %s, %s: the pause is lifted, and the waves go on as the gate judges them\n", ch, note)
	default:
		if st.trusted.PromotedTo != ctl.Wave {
			return mismatch(fmt.Sprintf("a promotion to wave %d", st.trusted.PromotedTo))
		}
		fmt.Printf("Promoted %s to wave %d of %d, %s: waves 1 to %d are open at once\n", ch, ctl.Wave, waves, note, ctl.Wave)
	}
	return nil
}

// defaultOperator is who asks when --by does not say: $USER@hostname.
func defaultOperator() string {
	who := os.Getenv("USER")
	if who == "" {
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
	}
	if who == "" {
		who = "someone"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return who + "@" + host
	}
	return who
}
