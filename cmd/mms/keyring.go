package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/choria-io/fisk"
	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/keyring"
)

func init() { registerCommand(configureKeyring) }

// Defaults of the keyring commands.
const (
	// defaultKeyringExpiry is how long a new keyring is valid: a year.
	defaultKeyringExpiry = 8760 * time.Hour
	// defaultSignerExpiry is how long a signer added to a keyring may sign: 90 days.
	defaultSignerExpiry = 90 * 24 * time.Hour
)

// keyringHelp is mms keyring's long help.
const keyringHelp = `A keyring lets nodes trust offline root keys instead of the keys that sign specifications:
k of its n roots sign the keyring, which names the online signers (each with a name, a key,
the machine-name patterns it may sign for and an expiry) and how many of them must sign a
specification (the spec threshold). Nodes are configured with the roots and the threshold
(the watcher's keyring_roots and keyring_threshold, mms agent's and mms apply's
--keyring-root and --keyring-threshold) and read the keyring from the specification's bucket,
at KEY.keyring.N, walking from version to version.

  mms keyring init --root PUB... --threshold K --out FILE   an unsigned version 1
  mms keyring add-signer FILE --name NAME --key PUB --machines PATTERN...
  mms keyring remove-signer FILE --name NAME
  mms keyring set-roots FILE --root PUB... --threshold K      root rotation
  mms keyring set FILE [--spec-threshold N] [--expires DURATION]
  mms keyring sign FILE KEY                                   a root signs it
  mms keyring verify FILE... [--root PUB... --threshold K]    as a node would take it
  mms keyring put FILE --bucket B --key K                     publish it for the nodes

An edit (add-signer, remove-signer, set-roots, set; each takes --out FILE to write elsewhere)
of a keyring that carries no signature (a draft) changes it in place, at its version.
An edit of a signed keyring makes the next version, without signatures: a threshold of the
roots of the version before and a threshold of its own roots must sign it (TUF's root
rotation), so that neither the old roots alone nor the new ones alone can change the keyring.`

func configureKeyring(app *fisk.Application) {
	cmd := app.Command("keyring", "Writes, signs, verifies and publishes the keyring: offline roots that name scoped, expiring signers")
	cmd.HelpLong(keyringHelp)
	configureKeyringInit(cmd)
	configureKeyringEdits(cmd)
	configureKeyringSign(cmd)
	configureKeyringVerify(cmd)
	configureKeyringPut(cmd)
}

type keyringInitCommand struct {
	roots         []string
	threshold     int
	thresholdSet  bool
	specThreshold int
	expires       time.Duration
	version       int64
	out           string
	force         bool
}

func configureKeyringInit(parent *fisk.CmdClause) {
	c := &keyringInitCommand{}
	cmd := parent.Command("init", "Writes a new, unsigned keyring with its root keys and no signers").Action(action(c.run))
	cmd.Flag("root", "A root key (public; 64 hex characters or a file holding them); repeat for each").Required().PlaceHolder("PUB").StringsVar(&c.roots)
	cmd.Flag("threshold", "How many of the roots must sign the keyring and the next version (required with more than one root)").PlaceHolder("K").IsSetByUser(&c.thresholdSet).IntVar(&c.threshold)
	cmd.Flag("spec-threshold", "How many distinct signers a specification needs; at most the signers a keyring has, so 1 until signers are added (then mms keyring set)").Default("1").PlaceHolder("N").IntVar(&c.specThreshold)
	cmd.Flag("expires", "How long the keyring is valid; nodes refuse it after that").Default(defaultKeyringExpiry.String()).DurationVar(&c.expires)
	cmd.Flag("version", "The keyring's version; a new keyring is version 1").Default("1").Int64Var(&c.version)
	cmd.Flag("out", "The file to write").Required().PlaceHolder("FILE").StringVar(&c.out)
	cmd.Flag("force", "Overwrites --out when it exists").UnNegatableBoolVar(&c.force)
}

func (c *keyringInitCommand) run() error {
	roots, err := loadKeys("--root", c.roots)
	if err != nil {
		return err
	}
	threshold := c.threshold
	if !c.thresholdSet {
		a, err := keyring.NewAnchor(roots, 0)
		if err != nil {
			return usageError("keyring init: %v: give --threshold", err)
		}
		threshold = a.Threshold
	}
	if c.expires <= 0 {
		return usageError("--expires must be positive, got %s", c.expires)
	}
	if !c.force {
		if _, err := os.Lstat(c.out); err == nil {
			return fmt.Errorf("keyring init: %s exists: give another --out, or --force to overwrite it", c.out)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	k, err := keyring.Draft{Version: c.version, Issued: now, Expires: now.Add(c.expires), Roots: roots, RootThreshold: threshold, SpecThreshold: c.specThreshold}.Seal()
	if err != nil {
		return usageError("keyring init: %v", err)
	}
	if err := writeKeyring(c.out, k); err != nil {
		return err
	}
	fmt.Printf("Wrote %s: keyring version %d, unsigned, %d root key(s) of which %d must sign, spec threshold %d, expires %s\n",
		c.out, k.Version, len(k.Roots), k.RootThreshold, k.SpecThreshold, stampUTC(k.Expires))
	fmt.Printf("Next: add signers (mms keyring add-signer %s ...), then %d root(s) sign it (mms keyring sign %s ROOT.key)\n", c.out, k.RootThreshold, c.out)
	return nil
}

// readKeyring reads and parses the keyring document in file.
func readKeyring(file string) (*keyring.Keyring, []byte, error) {
	doc, err := readInput(file)
	if err != nil {
		return nil, nil, err
	}
	k, err := keyring.Parse(bytes.TrimSpace(doc))
	if err != nil {
		return nil, nil, fmt.Errorf("keyring %s: %w", file, err)
	}
	return k, doc, nil
}

// writeKeyring writes k's document to file atomically (a temporary file beside it, renamed
// into place), so that a crash leaves the old document or the new one, never half of one.
func writeKeyring(file string, k *keyring.Keyring) error {
	doc, err := k.Document()
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := renameio.WriteFile(file, doc, mode); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// stampUTC formats t for messages.
func stampUTC(t time.Time) string { return t.UTC().Format(time.RFC3339) }
