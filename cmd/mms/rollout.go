package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func init() { registerCommand(configureRollout) }

// rolloutHelp is mms rollout's long help.
const rolloutHelp = `An entry with a rollout policy (see mms pack --help) reaches the fleet in waves: every
node draws its own wave from its identity, the entry and the new checksum, and the nodes
keep, per change (an entry's name and its new checksum) and wave, counters of who registered,
installed, is healthy, unhealthy or reverted, in the NATS gate they share (the stream
` + gate.DefaultCounters + ` and the Key-Value bucket ` + gate.DefaultControls + `). There is no rollout server.

  mms rollout status [ENTRY...]         each staged entry's waves, counts and controls
  mms rollout pause ENTRY               stops the next waves; needs no key, every node logs it
  mms rollout resume ENTRY KEY          lifts a pause, signed by a key the nodes trust
  mms rollout promote ENTRY --wave N KEY  opens the waves up to N at once, signed likewise

Each names the entry of the specification published in the bucket; the change is the one to
its checksum there (--checksum names another change of the entry). A halted change stays
halted: no control lifts it, only a new specification that changes the entry.`

func configureRollout(app *fisk.Application) {
	cmd := app.Command("rollout", "Shows and steers the staged rollouts of the published specification's entries")
	cmd.HelpLong(rolloutHelp)
	configureRolloutStatus(cmd)
	configureRolloutControls(cmd)
}

// rolloutFlags say where the specification is and which keys the nodes trust: one definition
// for every mms rollout command.
type rolloutFlags struct {
	kv   kvFlags
	keys []string
}

// register adds the connection flags as mms get has them, and --public-key with keysHelp.
func (f *rolloutFlags) register(cmd *fisk.CmdClause, keysHelp string) {
	f.kv.register(cmd, localServerHelp)
	f.kv.registerDir(cmd)
	f.kv.registerProfiles(cmd)
	cmd.Flag("public-key", keysHelp).StringsVar(&f.keys)
}

// rolloutConn is a connection to the server that holds the specification and the gate.
type rolloutConn struct {
	flags *rolloutFlags
	nc    *nats.Conn
	js    jetstream.JetStream
	url   string
	keys  []ed25519.PublicKey
}

// connect loads the trusted keys and connects; the caller closes the connection.
func (f *rolloutFlags) connect(ctx context.Context) (*rolloutConn, error) {
	keys, err := loadKeys("--public-key", f.keys)
	if err != nil {
		return nil, err
	}
	url, nc, js, err := f.kv.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &rolloutConn{flags: f, nc: nc, js: js, url: url, keys: keys}, nil
}

func (c *rolloutConn) close() { c.nc.Close() }

// publishedSpec is the specification published in the bucket, as read for a rollout command.
type publishedSpec struct {
	kvspec.Entry
	// Where names it, as mms get does: BUCKET/KEY revision N (stored TIME).
	Where string
	Spec  *spec.Spec
}

// readSpec reads the published specification and opens it as mms get does: with --public-key,
// one of the keys must verify it (nodes trusting them would refuse it otherwise).
func (c *rolloutConn) readSpec(ctx context.Context, command string) (*publishedSpec, error) {
	e, where, err := c.flags.kv.published(ctx, c.js, c.url)
	if err != nil {
		return nil, err
	}
	s, err := spec.Open(e.Value, spec.Trust{Keys: c.keys, InsecureAllowUnsigned: true})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", command, where, err)
	}
	return &publishedSpec{Entry: e, Where: where, Spec: s}, nil
}

// staged returns the entries named (every entry with a rollout policy when none is), in the
// specification's order, refusing a name the specification does not have or whose entry has
// no rollout policy.
func (p *publishedSpec) staged(command string, names []string) ([]spec.Entry, error) {
	if len(names) == 0 {
		var out []spec.Entry
		for _, e := range p.Spec.Entries {
			if e.Rollout != nil {
				out = append(out, e)
			}
		}
		return out, nil
	}
	for _, n := range names {
		e, ok := p.Spec.Entry(n)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s %q: the specification %s has no such entry (it has %s)", command, n, p.Where, entryNames(p.Spec))
		case e.Rollout == nil:
			return nil, fmt.Errorf("%s %q: the entry has no rollout policy in %s: its changes reach every matching node at once, with no waves to show or steer", command, n, p.Where)
		}
	}
	var out []spec.Entry
	for _, e := range p.Spec.Entries {
		if slices.Contains(names, e.Name) {
			out = append(out, e)
		}
	}
	return out, nil
}

// entryNames lists s's entries for a message.
func entryNames(s *spec.Spec) string {
	if len(s.Entries) == 0 {
		return "none"
	}
	names := make([]string, len(s.Entries))
	for i, e := range s.Entries {
		names[i] = e.Name
	}
	return strings.Join(names, ", ")
}

// shareOf is wave k's cumulative share as p writes it ("10%").
func shareOf(p *rollout.Policy, k int) string {
	if k < len(p.Shares) {
		return strings.TrimSpace(p.Shares[k])
	}
	return strconv.FormatFloat(float64(p.Waves[k])/100, 'f', -1, 64) + "%"
}
