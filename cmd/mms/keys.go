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
	out  string
	json bool
}

// keysDoc is mms keys' --json output (schema "mms.keys.v1"). The private key is in it only
// when it is not written to a file.
type keysDoc struct {
	Schema     string `json:"schema"`
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key,omitempty"`
	// PrivateKeyFile and PublicKeyFile are the files --out wrote.
	PrivateKeyFile string `json:"private_key_file,omitempty"`
	PublicKeyFile  string `json:"public_key_file,omitempty"`
}

func configureKeys(app *fisk.Application) {
	c := &keysCommand{}
	cmd := app.Command("keys", "Creates an ed25519 key pair for signing specifications").Action(action(c.run))
	cmd.Flag("out", "Writes PREFIX.key (private, mode 0600) and PREFIX.pub instead of printing the pair").PlaceHolder("PREFIX").StringVar(&c.out)
	jsonFlag(cmd, &c.json)
}

func (c *keysCommand) run() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	doc := keysDoc{Schema: "mms.keys.v1", PublicKey: hex.EncodeToString(pub)}
	if c.out == "" {
		doc.PrivateKey = hex.EncodeToString(priv)
		if c.json {
			return writeJSON(os.Stdout, doc)
		}
		// The same two lines as go-choria's `mms keys`.
		fmt.Printf(" Public Key: %s\n", doc.PublicKey)
		fmt.Printf("Private Key: %s\n", doc.PrivateKey)
		return nil
	}
	doc.PrivateKeyFile, doc.PublicKeyFile = c.out+".key", c.out+".pub"
	if err := writeNewFile(doc.PrivateKeyFile, []byte(hex.EncodeToString(priv)+"\n"), 0o600); err != nil {
		return err
	}
	if err := writeNewFile(doc.PublicKeyFile, []byte(doc.PublicKey+"\n"), 0o644); err != nil {
		os.Remove(doc.PrivateKeyFile)
		return err
	}
	if c.json {
		fmt.Fprintf(os.Stderr, "Wrote %s (private, keep it secret) and %s\n", doc.PrivateKeyFile, doc.PublicKeyFile)
		return writeJSON(os.Stdout, doc)
	}
	fmt.Printf("Wrote %s (private, keep it secret) and %s\n", doc.PrivateKeyFile, doc.PublicKeyFile)
	fmt.Printf(" Public Key: %s\n", doc.PublicKey)
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
