package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines/spec"
)

func init() { registerCommand(configureVerify) }

type verifyCommand struct {
	file string
	keys []string
	json bool
	// keyring, keyringRoots and keyringThreshold verify through a keyring: its versions'
	// files, and the roots (and threshold) to walk them from.
	keyring          []string
	keyringRoots     []string
	keyringThreshold int
}

func configureVerify(app *fisk.Application) {
	c := &verifyCommand{}
	cmd := app.Command("verify", "Verifies a specification's signature and shows what it holds; exits 0 only when a key, or a keyring's signers, verify it").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file (- for standard input)").Required().StringVar(&c.file)
	cmd.Arg("public-key", "Trusted ed25519 public keys: 64 hex characters or files holding them").StringsVar(&c.keys)
	cmd.Flag("keyring", "A keyring version's file; repeat for each version (any order): the specification may be signed by the newest trusted version's signers").PlaceHolder("FILE").StringsVar(&c.keyring)
	cmd.Flag("keyring-root", "A root key the nodes are configured with, to walk the --keyring files from as they do; repeat. Without it, the lowest version's own roots are trusted").PlaceHolder("PUB").StringsVar(&c.keyringRoots)
	cmd.Flag("keyring-threshold", "How many of --keyring-root must sign (required with more than one)").PlaceHolder("K").IntVar(&c.keyringThreshold)
	jsonFlag(cmd, &c.json)
}

func (c *verifyCommand) run() error {
	if len(c.keyring) > 0 {
		return c.runKeyring()
	}
	if len(c.keyringRoots) > 0 || c.keyringThreshold != 0 {
		return usageError("--keyring-root and --keyring-threshold need --keyring, the keyring files to walk")
	}
	if len(c.keys) == 0 {
		return usageError("give at least one public key to verify with")
	}
	keys, err := loadKeys("public key", c.keys)
	if err != nil {
		return err
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	s, err := spec.Open(data, spec.Trust{Keys: keys})
	if err != nil {
		return fmt.Errorf("verify %s: %w", c.file, err)
	}
	return newSpecDoc("verify", c.file, s, len(keys), time.Now()).show(os.Stdout, c.json)
}

// runKeyring verifies the specification as a node that trusts the keyring's roots (and any
// bare keys given) would: the newest keyring version the walk trusts decides which signers
// count, how many must sign, and which machines each may sign for.
func (c *verifyCommand) runKeyring() error {
	keys, err := loadKeys("public key", c.keys)
	if err != nil {
		return err
	}
	anchor, err := anchorFromFlags("--keyring-root", "--keyring-threshold", c.keyringRoots, c.keyringThreshold)
	if err != nil {
		return err
	}
	files, err := readKeyringFiles(c.keyring)
	if err != nil {
		return fmt.Errorf("verify %s: --keyring: %w", c.file, err)
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	now := time.Now()
	chain := walkKeyringFiles(context.Background(), files, anchor, now)
	if chain.self {
		fmt.Fprintln(os.Stderr, selfTrustWarning(chain, "--keyring-root"))
	}
	if chain.trusted == nil {
		return fmt.Errorf("verify %s: --keyring: %w", c.file, chain.problem)
	}
	if newest := files[len(files)-1].k; chain.trusted.Version != newest.Version {
		// What a node does: it stays at the newest version it trusts.
		fmt.Fprintf(os.Stderr, "warning: verifying with keyring version %d: %v\n", chain.trusted.Version, chain.problem)
	}
	s, err := spec.Open(data, spec.Trust{Keys: keys, Signers: chain.trusted.Trust(now), Now: func() time.Time { return now }})
	if err != nil {
		return fmt.Errorf("verify %s: %w", c.file, err)
	}
	d := newSpecDoc("verify", c.file, s, len(keys), now)
	d.addKeyring(chain, s)
	return d.show(os.Stdout, c.json)
}
