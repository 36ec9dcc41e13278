package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/choria-io/fisk"
	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/spec"
)

func init() { registerCommand(configureSign) }

type signCommand struct {
	file string
	key  string
	out  string
}

func configureSign(app *fisk.Application) {
	c := &signCommand{}
	cmd := app.Command("sign", "Adds a named signature to a packed v2 specification, so that several signers of a keyring can sign it, each on their own machine").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file, as mms pack prints it (- for standard input)").Required().StringVar(&c.file)
	signingKeyArg(cmd, "The signer's ed25519 private key", &c.key)
	cmd.Flag("out", "Writes the signed envelope to this file (atomically; it may be SPEC itself) instead of printing it").PlaceHolder("FILE").StringVar(&c.out)
}

func (c *signCommand) run() error {
	if c.key == "" {
		return usageError("sign: give the signer's private key (the argument KEY, or $KEY)")
	}
	priv, err := spec.LoadPrivateKey(c.key)
	if err != nil {
		return err
	}
	data, err := readInput(c.file)
	if err != nil {
		return err
	}
	env, err := spec.AddSignature(bytes.TrimSpace(data), priv)
	if err != nil {
		return fmt.Errorf("sign %s: %w", c.file, err)
	}
	if err := checkSpecSize(len(env)); err != nil {
		return fmt.Errorf("sign %s: %w", c.file, err)
	}
	signed, err := spec.DecodeEnvelope(env)
	if err != nil {
		return fmt.Errorf("sign %s: %w", c.file, err)
	}
	n := len(signed.Signatures)
	if signed.Signature != "" {
		n++
	}
	pub := hex.EncodeToString(priv.Public().(ed25519.PublicKey))
	if c.out == "" {
		fmt.Println(string(env))
		fmt.Fprintf(os.Stderr, "Signed with key %s: the specification carries %d signature(s)\n", pub, n)
		return nil
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(c.out); err == nil {
		mode = st.Mode().Perm()
	}
	if err := renameio.WriteFile(c.out, append(env, '\n'), mode); err != nil {
		return fmt.Errorf("write %s: %w", c.out, err)
	}
	fmt.Printf("Wrote %s, signed with key %s: the specification carries %d signature(s)\n", c.out, pub, n)
	return nil
}
