package main

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines/spec"
)

// readInput reads a file, or standard input when path is "-". fisk v0.6.4 hands a bare "-"
// argument over as an empty string, so "" means standard input too.
func readInput(path string) ([]byte, error) {
	if path == "-" || path == "" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// loadKeys loads trusted public keys, each 64 hex characters or a file holding them: the one
// key loader of every command. what names the argument in errors ("--public-key").
func loadKeys(what string, args []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for i, k := range args {
		pk, err := spec.LoadPublicKey(k)
		if err != nil {
			return nil, usageError("%s %d: %v", what, i+1, err)
		}
		keys = append(keys, pk)
	}
	return keys, nil
}

// signingKeyArg adds the argument key, or $KEY: the ed25519 private key a command signs with,
// 128 hex characters or a file holding them (spec.LoadPrivateKey reads it). help says what the
// key is for.
func signingKeyArg(cmd *fisk.CmdClause, help string, v *string) {
	cmd.Arg("key", help+": 128 hex characters or a file holding them").Envar("KEY").StringVar(v)
}
