package main

import (
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
}

func configureVerify(app *fisk.Application) {
	c := &verifyCommand{}
	cmd := app.Command("verify", "Verifies a specification's signature and shows what it holds; exits 0 only when a key verifies it").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file (- for standard input)").Required().StringVar(&c.file)
	cmd.Arg("public-key", "Trusted ed25519 public keys: 64 hex characters or files holding them").StringsVar(&c.keys)
	jsonFlag(cmd, &c.json)
}

func (c *verifyCommand) run() error {
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
