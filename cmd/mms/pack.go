package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
)

// Specifications travel as one NATS message, whose default max_payload is 1 MiB.
const (
	specWarnBytes  = 512 << 10 // 512 KiB: warn, the limit is near
	specLimitBytes = 1 << 20   // 1 MiB: the NATS server's default max_payload
)

func init() { registerCommand(configurePack) }

// packHelp is mms pack's long help: the machines file's two forms and the rollout policy.
const packHelp = `The machines file is a JSON array of entries, as go-choria's mms pack reads, or an object
that also gives the default rollout policy of every entry without its own:

  {"rollout": {"waves": ["1%", "10%", "50%", "100%"], "bake": "5m",
               "healthy_states": ["RUN"], "failed_states": ["FAILED"]},
   "machines": [entries]}

An entry may give its own policy in its field rollout (it replaces the default as a whole;
null means the default). A policy's fields: waves (required: cumulative shares, the last
100%), bake (5m), healthy_states, failed_states, healthy_deadline (5m), health_command (an
argv, for mms agent), health_timeout (30s), max_unhealthy (a count or a share, "0") and
on_halt (revert or hold). A specification with a policy is v2 and requires the feature
rollout, which mms pack adds: a node that does not know staged rollouts refuses it rather
than install the change everywhere at once.`

type packCommand struct {
	machines     string
	key          string
	format       string
	version      int64
	expires      time.Duration
	force        bool
	allowUnknown bool
	requires     []string
}

func configurePack(app *fisk.Application) {
	c := &packCommand{}
	cmd := app.Command("pack", "Validates a machines file and prints the (signed) specification envelope").Action(action(c.run))
	cmd.HelpLong(packHelp)
	cmd.Arg("machines", `A JSON file holding the array of entries, or {"rollout": POLICY, "machines": [entries]} (- for standard input)`).Required().StringVar(&c.machines)
	signingKeyArg(cmd, "The ed25519 private key to sign with", &c.key)
	cmd.Flag("format", "Payload format: v2 (versioned, rollback protected) or v1 (go-choria compatible)").Default("v2").EnumVar(&c.format, "v1", "v2")
	cmd.Flag("version", "The v2 version; must grow with every spec (default: now in Unix milliseconds)").Int64Var(&c.version)
	cmd.Flag("expires", "Makes a v2 spec expire this long after now (e.g. 720h); nodes refuse it after that").DurationVar(&c.expires)
	cmd.Flag("force", "Packs without signing when no key is given").BoolVar(&c.force)
	cmd.Flag("allow-unknown", "Packs entries with fields mms does not know (refused by default: a typo must not ship)").BoolVar(&c.allowUnknown)
	cmd.Flag("require", "A feature the v2 spec requires: nodes whose mms does not know it refuse the whole spec; repeat").PlaceHolder("FEATURE").StringsVar(&c.requires)
}

func (c *packCommand) run() error {
	data, err := readInput(c.machines)
	if err != nil {
		return err
	}
	now := time.Now()
	opts := spec.PackOptions{Format: 2, Version: c.version, Issued: now, AllowUnknown: c.allowUnknown, Requires: c.requires}
	if c.format == "v1" {
		opts.Format = 1
		if c.version != 0 || c.expires != 0 {
			return usageError("--version and --expires need --format v2")
		}
		if len(c.requires) > 0 {
			return usageError("--require needs --format v2: a v1 spec has no place for the features it requires, and go-choria's nodes would ignore them")
		}
	}
	if err := checkRequires(c.requires); err != nil {
		return err
	}
	if opts.Format == 2 && opts.Version == 0 {
		opts.Version = spec.VersionAt(now)
	}
	if c.expires < 0 {
		return usageError("--expires must be positive")
	}
	if c.expires > 0 {
		opts.Expires = now.Add(c.expires)
	}
	if c.key != "" {
		if opts.Key, err = spec.LoadPrivateKey(c.key); err != nil {
			return err
		}
	} else if !c.force {
		return fmt.Errorf("no private key given (argument or $KEY): nodes with a public key refuse unsigned specs; pass --force to pack unsigned")
	} else {
		fmt.Fprintln(os.Stderr, "warning: packing an unsigned specification")
	}
	env, s, err := spec.Pack(data, opts)
	if err != nil {
		return fmt.Errorf("pack %s: %w", c.machines, err)
	}
	// What a node that trusts the signing key would say of it, with the node's own limits.
	trust := spec.Trust{InsecureAllowUnsigned: true}
	if opts.Key != nil {
		trust.Keys = []ed25519.PublicKey{opts.Key.Public().(ed25519.PublicKey)}
	}
	if _, err := machines.CheckPublishable(env, trust, nodeloop.DefaultSettings().Matcher, now); err != nil {
		return fmt.Errorf("pack %s: %w", c.machines, err)
	}
	if err := checkSpecSize(len(env)); err != nil {
		return err
	}
	for _, u := range s.Unknown {
		fmt.Fprintf(os.Stderr, "warning: %s is not known to mms; nodes will ignore it\n", u)
	}
	if slices.Contains(s.Requires, spec.FeatureRollout) && !slices.Contains(c.requires, spec.FeatureRollout) {
		fmt.Fprintf(os.Stderr, "note: the specification requires %q, for its rollout policy: nodes whose mms does not know staged rollouts refuse it\n", spec.FeatureRollout)
	}
	fmt.Println(string(env))
	return nil
}

// checkRequires refuses, as a usage error, a --require that names no valid feature, names one
// twice, or names one this mms does not know: no node running it could accept such a spec.
func checkRequires(features []string) error {
	seen := map[string]bool{}
	for _, f := range features {
		if spec.ValidFeature(f) != nil {
			return usageError("--require %q: a feature name must match %s", f, spec.FeaturePattern)
		}
		if seen[f] {
			return usageError("--require %s is given twice", f)
		}
		seen[f] = true
		if !slices.Contains(spec.KnownFeatures(), f) {
			known := "none"
			if k := spec.KnownFeatures(); len(k) > 0 {
				known = strings.Join(k, ", ")
			}
			return usageError("--require %s: this mms does not know the feature (it knows %s), so no node running it could accept the spec; pack it with an mms that brings the feature", f, known)
		}
	}
	return nil
}

// checkSpecSize warns when a specification nears what one NATS message carries by default and
// refuses one past it.
func checkSpecSize(n int) error {
	switch {
	case n > specLimitBytes:
		return fmt.Errorf("the specification is %d bytes, more than the %d bytes a NATS message carries by default (max_payload): split it or move large fields out", n, specLimitBytes)
	case n > specWarnBytes:
		fmt.Fprintf(os.Stderr, "warning: the specification is %d bytes, near the %d bytes a NATS message carries by default\n", n, specLimitBytes)
	}
	return nil
}
