package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/choria-io/fisk"

	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

// keyringEdit is what every edit command shares: the keyring file it reads and where it writes.
type keyringEdit struct {
	file string
	out  string
}

// register adds FILE and --out to cmd.
func (e *keyringEdit) register(cmd *fisk.CmdClause) {
	cmd.Arg("file", "The keyring document").Required().StringVar(&e.file)
	cmd.Flag("out", "Writes the edited keyring here instead of over FILE (which then keeps what it held)").PlaceHolder("FILE").StringVar(&e.out)
}

// apply reads the keyring, lets change edit its draft, and writes the result: a keyring
// without signatures (a draft) is edited in place at its version; a signed one becomes the
// next version, without signatures, which the roots of both versions must sign. what names the
// command for messages; change returns what to print once the keyring is written. A keyring
// the edit makes invalid is refused with the keyring's own reason, as a usage error when
// flagsDecide (the flags alone made it so).
func (e *keyringEdit) apply(what string, flagsDecide bool, change func(d *keyring.Draft) (string, error)) error {
	if e.file == "" || e.file == "-" {
		return usageError("%s: give the keyring file (standard input cannot be written back)", what)
	}
	k, _, err := readKeyring(e.file)
	if err != nil {
		return err
	}
	out := e.out
	if out == "" {
		out = e.file
	} else if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s: --out %s exists: give another", what, out)
	}
	signed := len(k.Signatures) > 0
	d := k.Draft()
	if signed {
		d = k.Next(time.Now())
	}
	said, err := change(&d)
	if err != nil {
		return err
	}
	next, err := d.Seal()
	if err != nil && flagsDecide {
		return usageError("%s %s: %v", what, e.file, err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, e.file, err)
	}
	if err := writeKeyring(out, next); err != nil {
		return err
	}
	if said != "" {
		fmt.Println(said)
	}
	if !signed {
		fmt.Printf("Wrote %s: keyring version %d, still unsigned\n", out, next.Version)
		return nil
	}
	fmt.Printf("Wrote %s: keyring version %d, unsigned: %s held version %d, signed by %d key(s); an edit of a signed keyring makes the next version\n",
		out, next.Version, e.file, k.Version, len(k.Signatures))
	fmt.Printf("It must be signed by %d of version %d's %d root(s) and by %d of its own %d root(s): mms keyring sign %s ROOT.key\n",
		k.RootThreshold, k.Version, len(k.Roots), next.RootThreshold, len(next.Roots), out)
	if out == e.file {
		fmt.Fprintf(os.Stderr, "note: %s no longer holds version %d; nodes walking from it need it published (mms keyring put) before version %d\n", e.file, k.Version, next.Version)
	}
	return nil
}

type keyringAddSignerCommand struct {
	edit     keyringEdit
	name     string
	key      string
	machines []string
	expires  time.Duration
}

type keyringRemoveSignerCommand struct {
	edit keyringEdit
	name string
}

type keyringSetRootsCommand struct {
	edit         keyringEdit
	roots        []string
	threshold    int
	thresholdSet bool
}

type keyringSetCommand struct {
	edit             keyringEdit
	specThreshold    int
	specThresholdSet bool
	expires          time.Duration
}

func configureKeyringEdits(parent *fisk.CmdClause) {
	add := &keyringAddSignerCommand{}
	cmd := parent.Command("add-signer", "Adds an online signer of specifications, scoped to machine-name patterns and expiring").Action(action(add.run))
	add.edit.register(cmd)
	cmd.Flag("name", "The signer's name, shown in reports (letters, digits, _ . @ -)").Required().StringVar(&add.name)
	cmd.Flag("key", "The signer's public key: 64 hex characters or a file holding them").Required().PlaceHolder("PUB").StringVar(&add.key)
	cmd.Flag("machines", `A machine-name pattern the signer may sign for ("web-*", "*" for every machine); repeat`).Required().PlaceHolder("PATTERN").StringsVar(&add.machines)
	cmd.Flag("expires", "How long from now the signer's signatures count").Default(defaultSignerExpiry.String()).DurationVar(&add.expires)

	rm := &keyringRemoveSignerCommand{}
	cmd = parent.Command("remove-signer", "Removes a signer (a stolen key: its inflated versions stop binding the nodes)").Action(action(rm.run))
	rm.edit.register(cmd)
	cmd.Flag("name", "The signer's name").Required().StringVar(&rm.name)

	roots := &keyringSetRootsCommand{}
	cmd = parent.Command("set-roots", "Replaces the root keys and their threshold (root rotation: the old and the new roots sign the next version)").Action(action(roots.run))
	roots.edit.register(cmd)
	cmd.Flag("root", "A root key (public; 64 hex characters or a file holding them); repeat for each").Required().PlaceHolder("PUB").StringsVar(&roots.roots)
	cmd.Flag("threshold", "How many of the new roots must sign (required with more than one root)").PlaceHolder("K").IsSetByUser(&roots.thresholdSet).IntVar(&roots.threshold)

	set := &keyringSetCommand{}
	cmd = parent.Command("set", "Sets the keyring's spec threshold and expiry").Action(action(set.run))
	set.edit.register(cmd)
	cmd.Flag("spec-threshold", "How many distinct signers a specification needs").PlaceHolder("N").IsSetByUser(&set.specThresholdSet).IntVar(&set.specThreshold)
	cmd.Flag("expires", "Makes the keyring expire this long from now").DurationVar(&set.expires)
}

func (c *keyringAddSignerCommand) run() error {
	keys, err := loadKeys("--key", []string{c.key})
	if err != nil {
		return err
	}
	key := keys[0]
	for _, p := range c.machines {
		if err := keyring.CheckPattern(p); err != nil {
			return usageError("--machines: %v", err)
		}
	}
	if c.expires <= 0 {
		return usageError("--expires must be positive, got %s", c.expires)
	}
	return c.edit.apply("keyring add-signer", false, func(d *keyring.Draft) (string, error) {
		for _, s := range d.Signers {
			switch {
			case s.Name == c.name:
				return "", fmt.Errorf("keyring add-signer %s: keyring version %d already has a signer %s (key %s): remove it first to replace it", c.edit.file, d.Version, c.name, hex.EncodeToString(s.Key))
			case s.Key.Equal(key):
				return "", fmt.Errorf("keyring add-signer %s: key %s is already signer %s's: a key counts once", c.edit.file, hex.EncodeToString(key), s.Name)
			}
		}
		if keyring.Position(d.Roots, key) > 0 {
			return "", fmt.Errorf("keyring add-signer %s: key %s is a root key of keyring version %d: root keys stay offline and sign only keyrings", c.edit.file, hex.EncodeToString(key), d.Version)
		}
		expires := time.Now().UTC().Truncate(time.Second).Add(c.expires)
		d.Signers = append(d.Signers, spec.Signer{Name: c.name, Key: key, Machines: c.machines, Expires: expires})
		said := fmt.Sprintf("Added signer %s (%s), key %s, until %s", c.name, strings.Join(c.machines, ", "), hex.EncodeToString(key), stampUTC(expires))
		if expires.After(d.Expires) {
			said += fmt.Sprintf("\nnote: the keyring itself expires first, at %s (mms keyring set --expires)", stampUTC(d.Expires))
		}
		return said, nil
	})
}

func (c *keyringRemoveSignerCommand) run() error {
	return c.edit.apply("keyring remove-signer", false, func(d *keyring.Draft) (string, error) {
		names := make([]string, 0, len(d.Signers))
		for i, s := range d.Signers {
			if s.Name != c.name {
				names = append(names, s.Name)
				continue
			}
			d.Signers = append(d.Signers[:i:i], d.Signers[i+1:]...)
			if d.SpecThreshold > max(1, len(d.Signers)) {
				return "", fmt.Errorf("keyring remove-signer %s: keyring version %d needs %d signers per specification and would keep %d: lower it first (mms keyring set %s --spec-threshold %d)",
					c.edit.file, d.Version, d.SpecThreshold, len(d.Signers), c.edit.file, len(d.Signers))
			}
			return fmt.Sprintf("Removed signer %s, key %s", s.Name, hex.EncodeToString(s.Key)), nil
		}
		has := "no signers"
		if len(names) > 0 {
			has = "signers " + strings.Join(names, ", ")
		}
		return "", fmt.Errorf("keyring remove-signer %s: keyring version %d has no signer %s (it has %s)", c.edit.file, d.Version, c.name, has)
	})
}

func (c *keyringSetRootsCommand) run() error {
	roots, err := loadKeys("--root", c.roots)
	if err != nil {
		return err
	}
	if !c.thresholdSet {
		a, err := keyring.NewAnchor(roots, 0)
		if err != nil {
			return usageError("keyring set-roots: %v: give --threshold", err)
		}
		c.threshold = a.Threshold
	}
	return c.edit.apply("keyring set-roots", true, func(d *keyring.Draft) (string, error) {
		d.Roots, d.RootThreshold = roots, c.threshold
		return fmt.Sprintf("Set %d root key(s), of which %d must sign", len(roots), c.threshold), nil
	})
}

func (c *keyringSetCommand) run() error {
	if !c.specThresholdSet && c.expires == 0 {
		return usageError("keyring set: give --spec-threshold or --expires, what to change")
	}
	if c.expires < 0 {
		return usageError("--expires must be positive, got %s", c.expires)
	}
	if c.specThresholdSet && c.specThreshold < 1 {
		return usageError("--spec-threshold must be at least 1, got %d (a threshold of 0 would let an unsigned specification through)", c.specThreshold)
	}
	return c.edit.apply("keyring set", false, func(d *keyring.Draft) (string, error) {
		var said []string
		if c.specThresholdSet {
			d.SpecThreshold = c.specThreshold
			said = append(said, fmt.Sprintf("spec threshold %d", c.specThreshold))
		}
		if c.expires > 0 {
			d.Expires = time.Now().UTC().Truncate(time.Second).Add(c.expires)
			said = append(said, "expires "+stampUTC(d.Expires))
		}
		return "Set " + strings.Join(said, ", "), nil
	})
}
