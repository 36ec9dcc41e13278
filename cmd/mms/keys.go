package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/choria-io/fisk"
)

func init() { registerCommand(configureKeys) }

type keysCommand struct {
	out string
}

func configureKeys(app *fisk.Application) {
	c := &keysCommand{}
	cmd := app.Command("keys", "Creates an ed25519 key pair for signing specifications").Action(action(c.run))
	cmd.Flag("out", "Writes PREFIX.key (private, mode 0600) and PREFIX.pub instead of printing the pair").PlaceHolder("PREFIX").StringVar(&c.out)
}

func (c *keysCommand) run() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	if c.out == "" {
		// The same two lines as go-choria's `mms keys`.
		fmt.Printf(" Public Key: %s\n", hex.EncodeToString(pub))
		fmt.Printf("Private Key: %s\n", hex.EncodeToString(priv))
		return nil
	}
	if err := writeNewFile(c.out+".key", []byte(hex.EncodeToString(priv)+"\n"), 0o600); err != nil {
		return err
	}
	if err := writeNewFile(c.out+".pub", []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
		os.Remove(c.out + ".key")
		return err
	}
	fmt.Printf("Wrote %s.key (private, keep it secret) and %s.pub\n", c.out, c.out)
	fmt.Printf(" Public Key: %s\n", hex.EncodeToString(pub))
	return nil
}

// writeNewFile writes data to a file that must not exist yet, so that a key is never
// overwritten by accident.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
