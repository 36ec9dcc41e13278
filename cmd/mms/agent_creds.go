package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/install"
)

// The credentials of mms agent's embedded NATS server are kept in DIR/.mms
// (install.CredentialsName), mode 0600: made at the agent's first start, kept across restarts,
// read by mms put and mms get given --dir. Loopback is not an authentication boundary: every
// local user reaches the port.

// embeddedUser is the one user of the embedded server.
const embeddedUser = "mms"

// embeddedCreds are what a local client needs to reach the agent's embedded server.
type embeddedCreds struct {
	// URL is where the server listens, written at every start (the port may change).
	URL string `json:"url"`
	// User and Password are the server's one credentials.
	User     string `json:"user"`
	Password string `json:"password"`
}

// agentCreds returns the embedded server's credentials for the machines directory dir,
// making them at the first start.
func agentCreds(dir string) (embeddedCreds, error) {
	c, err := readCreds(dir)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return embeddedCreds{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return embeddedCreds{}, fmt.Errorf("make the embedded server's password: %w", err)
	}
	return embeddedCreds{User: embeddedUser, Password: hex.EncodeToString(secret)}, nil
}

// writeCreds saves c for the local clients, readable by the owner only.
func writeCreds(dir string, c embeddedCreds) error {
	path, err := install.StatePath(dir, install.CredentialsName)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readCreds reads the credentials mms agent left in dir; an error wrapping fs.ErrNotExist
// means the agent never started its embedded server there.
func readCreds(dir string) (embeddedCreds, error) {
	path := install.StatePathFor(dir, install.CredentialsName)
	data, err := os.ReadFile(path)
	if err != nil {
		return embeddedCreds{}, fmt.Errorf("read the embedded server's credentials: %w", err)
	}
	var c embeddedCreds
	if err := json.Unmarshal(data, &c); err != nil || c.User == "" || c.Password == "" {
		return embeddedCreds{}, fmt.Errorf("read the embedded server's credentials %s: not what mms agent writes", path)
	}
	return c, nil
}
