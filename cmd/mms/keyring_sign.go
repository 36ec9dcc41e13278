package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/choria-io/fisk"

	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

type keyringSignCommand struct {
	file string
	key  string
	out  string
}

func configureKeyringSign(parent *fisk.CmdClause) {
	c := &keyringSignCommand{}
	cmd := parent.Command("sign", "Adds a root's signature to a keyring (of its own roots, or of the version before's, in a rotation)").Action(action(c.run))
	cmd.Arg("file", "The keyring document").Required().StringVar(&c.file)
	signingKeyArg(cmd, "The root's ed25519 private key", &c.key)
	cmd.Flag("out", "Writes the signed keyring here instead of over FILE").PlaceHolder("FILE").StringVar(&c.out)
}

func (c *keyringSignCommand) run() error {
	if c.file == "" || c.file == "-" {
		return usageError("keyring sign: give the keyring file (standard input cannot be written back)")
	}
	if c.key == "" {
		return usageError("keyring sign: give the root's private key (the argument KEY, or $KEY)")
	}
	priv, err := spec.LoadPrivateKey(c.key)
	if err != nil {
		return err
	}
	k, _, err := readKeyring(c.file)
	if err != nil {
		return err
	}
	if err := k.Sign(priv); err != nil {
		return fmt.Errorf("keyring sign %s: %w", c.file, err)
	}
	out := c.out
	if out == "" {
		out = c.file
	}
	if err := writeKeyring(out, k); err != nil {
		return err
	}
	pub := priv.Public().(ed25519.PublicKey)
	own, _ := k.SignedBy(k.Roots)
	fmt.Printf("Signed keyring version %d (%s) with key %s\n", k.Version, out, hex.EncodeToString(pub))
	if i := keyring.Position(k.Roots, pub); i > 0 {
		fmt.Printf("It is root %d of %d; %d of %d signatures needed, now %d\n", i, len(k.Roots), k.RootThreshold, len(k.Roots), own)
	} else {
		fmt.Fprintf(os.Stderr, "warning: key %s is not a root of keyring version %d: its signature counts only as a root of the version before (a rotation, where the old roots sign the new version beside its own) or of the roots a node is configured with\n",
			hex.EncodeToString(pub), k.Version)
		fmt.Printf("Its own roots: %d of %d signatures needed, now %d\n", k.RootThreshold, len(k.Roots), own)
	}
	if k.Version > 1 {
		fmt.Printf("Version %d must also be signed by a threshold of version %d's roots (mms keyring verify checks both)\n", k.Version, k.Version-1)
	}
	return nil
}
