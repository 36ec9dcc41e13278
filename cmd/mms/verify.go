package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/choria-io/fisk"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/spec"
)

func init() { registerCommand(configureVerify) }

type verifyCommand struct {
	file string
	keys []string
}

func configureVerify(app *fisk.Application) {
	c := &verifyCommand{}
	cmd := app.Command("verify", "Verifies a specification's signature and shows what it holds; exits 0 only when a key verifies it").Action(action(c.run))
	cmd.Arg("spec", "The specification envelope file (- for standard input)").Required().StringVar(&c.file)
	cmd.Arg("public-key", "Trusted ed25519 public keys: 64 hex characters or files holding them").StringsVar(&c.keys)
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
	describeSpec(os.Stdout, c.file, s, keys)
	if err := spec.Admit(s, nil, nil, time.Now()); err != nil {
		return fmt.Errorf("verify %s: %w", c.file, err)
	}
	return nil
}

// describeSpec prints what a specification holds, never a password.
func describeSpec(w io.Writer, name string, s *spec.Spec, keys []ed25519.PublicKey) {
	fmt.Fprintf(w, "Specification %s\n", name)
	fmt.Fprintf(w, "   Envelope: %s\n", s.Kind)
	fmt.Fprintf(w, "     Format: v%d\n", s.Format)
	if s.Format == 2 {
		fmt.Fprintf(w, "    Version: %d\n", s.Version)
		fmt.Fprintf(w, "     Issued: %s\n", s.Issued.UTC().Format(time.RFC3339))
		if s.Expires.IsZero() {
			fmt.Fprintf(w, "    Expires: never\n")
		} else {
			fmt.Fprintf(w, "    Expires: %s\n", s.Expires.UTC().Format(time.RFC3339))
		}
	}
	if s.Signed() {
		fmt.Fprintf(w, "  Signature: verified by key %s (%d of %d)\n", hex.EncodeToString(keys[s.SignedBy]), s.SignedBy+1, len(keys))
	} else {
		fmt.Fprintf(w, "  Signature: NOT VERIFIED\n")
	}
	fmt.Fprintf(w, "     Digest: %s\n", s.Digest)
	fmt.Fprintf(w, "    Entries: %d\n", len(s.Entries))
	for _, e := range s.Entries {
		match := e.Match
		if match == "" {
			match = "(every node)"
		}
		fmt.Fprintf(w, "\n  %s\n", e.Name)
		fmt.Fprintf(w, "           source: %s\n", fetch.Source{URL: e.Source})
		fmt.Fprintf(w, "         checksum: %s\n", e.Checksum)
		fmt.Fprintf(w, "  verify_checksum: %s\n", e.VerifyChecksum)
		fmt.Fprintf(w, "            match: %s\n", match)
		if e.Username != "" {
			fmt.Fprintf(w, "         username: %s (password hidden)\n", e.Username)
		}
		if e.Governor != "" {
			fmt.Fprintf(w, "         governor: %s\n", e.Governor)
		}
	}
	for _, u := range s.Unknown {
		fmt.Fprintf(w, "\n  note: %s is not known to this mms and is ignored\n", u)
	}
}
