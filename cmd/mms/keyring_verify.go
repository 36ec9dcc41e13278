package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/choria-io/fisk"

	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"
)

type keyringVerifyCommand struct {
	files     []string
	roots     []string
	threshold int
	json      bool
}

func configureKeyringVerify(parent *fisk.CmdClause) {
	c := &keyringVerifyCommand{}
	cmd := parent.Command("verify", "Verifies keyring versions as a node walks them; exits 0 only when the newest is trusted and not expired").Action(action(c.run))
	cmd.Arg("file", "Keyring documents, versions of one keyring in any order").Required().StringsVar(&c.files)
	cmd.Flag("root", "A root key the nodes are configured with (public; 64 hex characters or a file holding them); repeat. Without it, the lowest version's own roots are trusted").PlaceHolder("PUB").StringsVar(&c.roots)
	cmd.Flag("threshold", "How many of --root must sign (required with more than one)").PlaceHolder("K").IntVar(&c.threshold)
	jsonFlag(cmd, &c.json)
}

func (c *keyringVerifyCommand) run() error {
	anchor, err := anchorFromFlags("--root", "--threshold", c.roots, c.threshold)
	if err != nil {
		return err
	}
	files, err := readKeyringFiles(c.files)
	if err != nil {
		return fmt.Errorf("keyring verify: %w", err)
	}
	now := time.Now()
	chain := walkKeyringFiles(context.Background(), files, anchor, now)
	if chain.self {
		fmt.Fprintln(os.Stderr, selfTrustWarning(chain, "--root"))
	}
	doc := newKeyringVerifyDoc(chain, now)
	if c.json {
		if err := writeJSON(os.Stdout, doc); err != nil {
			return err
		}
	} else {
		doc.print(os.Stdout)
	}
	if chain.problem != nil {
		return fmt.Errorf("keyring verify: %w", chain.problem)
	}
	return nil
}

// keyringVerifyDoc is mms keyring verify's --json output (schema "mms.keyring-verify.v1").
type keyringVerifyDoc struct {
	Schema string `json:"schema"`
	// Anchor is what the walk started from.
	Anchor keyringAnchorDoc `json:"anchor"`
	// Versions are the versions given, from the lowest.
	Versions []keyringVersionDoc `json:"versions"`
	// Trusted is true when the newest version is trusted and has not expired (exit code 0);
	// Problem says why not.
	Trusted bool   `json:"trusted"`
	Problem string `json:"problem,omitempty"`
	// TrustedVersion is the newest version a node would hold, 0 for none.
	TrustedVersion int64 `json:"trusted_version"`
}

// keyringAnchorDoc is the anchor of a walk.
type keyringAnchorDoc struct {
	// From is "roots given" (--root) or "own roots" (the lowest version's own, without
	// --root: nothing outside the files vouches for them).
	From      string   `json:"from"`
	Roots     []string `json:"roots"`
	Threshold int      `json:"threshold"`
}

// keyringVersionDoc is one version of the keyring and where it stands.
type keyringVersionDoc struct {
	File    string    `json:"file"`
	Version int64     `json:"version"`
	Digest  string    `json:"digest"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	Expired bool      `json:"expired"`
	// Roots are its root keys, of which RootThreshold must sign it and the next version.
	Roots         []string `json:"roots"`
	RootThreshold int      `json:"root_threshold"`
	// Signatures are the signatures it carries.
	Signatures []keyringSignatureDoc `json:"signatures"`
	// OwnRoots counts its own roots that signed it; PreviousRoots the version before's (absent
	// for the lowest version given); AnchorRoots the roots given (with --root, for the
	// versions the walk judged against them: up to the first it took).
	OwnRoots      quorum  `json:"own_roots"`
	PreviousRoots *quorum `json:"previous_roots,omitempty"`
	AnchorRoots   *quorum `json:"anchor_roots,omitempty"`
	// Signers are the online signers it names, and SpecThreshold how many must sign a
	// specification.
	Signers       []keyringSignerDoc `json:"signers"`
	SpecThreshold int                `json:"spec_threshold"`
	// Status is trusted, skipped (the roots given do not vouch for it, and the walk passed
	// over it), refused (the walk stopped there) or "not reached"; Reason says why.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// keyringSignatureDoc is one signature of a keyring version.
type keyringSignatureDoc struct {
	Key string `json:"key"`
	// Verifies says the signature is the key's, of this version's payload.
	Verifies bool `json:"verifies"`
	// Root is the key's place among this version's roots, from 1; 0 when it is not one.
	// PreviousRoot is its place among the version before's roots (absent for the lowest
	// version given), AnchorRoot among the roots given (absent without --root).
	Root         int  `json:"root"`
	PreviousRoot *int `json:"previous_root,omitempty"`
	AnchorRoot   *int `json:"anchor_root,omitempty"`
}

// keyringSignerDoc is one online signer of a keyring.
type keyringSignerDoc struct {
	Name     string    `json:"name"`
	Key      string    `json:"key"`
	Machines []string  `json:"machines"`
	Expires  time.Time `json:"expires"`
	Expired  bool      `json:"expired"`
}

func newKeyringVerifyDoc(c *keyringChain, now time.Time) *keyringVerifyDoc {
	d := &keyringVerifyDoc{Schema: "mms.keyring-verify.v1", Versions: []keyringVersionDoc{},
		Anchor: keyringAnchorDoc{From: "roots given", Roots: hexKeys(c.anchor.Roots), Threshold: c.anchor.Threshold}}
	if c.self {
		d.Anchor.From = "own roots"
	}
	if c.trusted != nil {
		d.TrustedVersion = c.trusted.Version
	}
	if c.problem != nil {
		d.Problem = c.problem.Error()
	} else {
		d.Trusted = true
	}
	judgedByAnchor := !c.self
	for i, f := range c.files {
		k := f.k
		v := keyringVersionDoc{File: f.file, Version: k.Version, Digest: k.Digest, Issued: k.Issued.UTC(), Expires: k.Expires.UTC(), Expired: k.Expired(now) != nil,
			Roots: hexKeys(k.Roots), RootThreshold: k.RootThreshold, Signatures: []keyringSignatureDoc{}, OwnRoots: newQuorum(k, k.Roots, k.RootThreshold),
			Signers: []keyringSignerDoc{}, SpecThreshold: k.SpecThreshold, Status: c.status[i], Reason: c.reason[i]}
		var prev *keyring.Keyring
		if i > 0 {
			prev = c.files[i-1].k
			q := newQuorum(k, prev.Roots, prev.RootThreshold)
			v.PreviousRoots = &q
		}
		anchored := judgedByAnchor
		if anchored {
			q := newQuorum(k, c.anchor.Roots, c.anchor.Threshold)
			v.AnchorRoots = &q
			judgedByAnchor = c.status[i] == versionSkipped
		}
		for _, ns := range k.Signatures {
			sd := keyringSignatureDoc{Key: ns.Key}
			if pub, err := spec.ParsePublicKey(ns.Key); err == nil {
				signed, _ := spec.SignedKeys(k.Payload, "", []spec.NamedSignature{ns}, []ed25519.PublicKey{pub})
				sd.Verifies = signed[0]
				sd.Root = keyring.Position(k.Roots, pub)
				if prev != nil {
					p := keyring.Position(prev.Roots, pub)
					sd.PreviousRoot = &p
				}
				if anchored {
					a := keyring.Position(c.anchor.Roots, pub)
					sd.AnchorRoot = &a
				}
			}
			v.Signatures = append(v.Signatures, sd)
		}
		for _, s := range k.Signers {
			v.Signers = append(v.Signers, keyringSignerDoc{Name: s.Name, Key: hex.EncodeToString(s.Key), Machines: s.Machines, Expires: s.Expires.UTC(), Expired: !now.Before(s.Expires)})
		}
		d.Versions = append(d.Versions, v)
	}
	return d
}

// print prints d as text.
func (d *keyringVerifyDoc) print(w io.Writer) {
	for i, v := range d.Versions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		status := v.Status
		if v.Status == versionTrusted && v.Expired {
			status += ", EXPIRED"
		}
		fmt.Fprintf(w, "Keyring version %d (%s): %s\n", v.Version, v.File, status)
		if v.Reason != "" {
			fmt.Fprintf(w, "         Reason: %s\n", v.Reason)
		}
		fmt.Fprintf(w, "         Issued: %s\n", v.Issued.Format(time.RFC3339))
		expired := ""
		if v.Expired {
			expired = " (expired)"
		}
		fmt.Fprintf(w, "        Expires: %s%s\n", v.Expires.Format(time.RFC3339), expired)
		fmt.Fprintf(w, "         Digest: %s\n", v.Digest)
		fmt.Fprintf(w, "          Roots: %d of %d must sign\n", v.RootThreshold, len(v.Roots))
		for j, r := range v.Roots {
			fmt.Fprintf(w, "                 %d %s %s\n", j+1, r, signedMark(v.Signatures, r))
		}
		fmt.Fprintf(w, "      Signed by: its own roots: %s\n", v.OwnRoots.text())
		if v.PreviousRoots != nil {
			fmt.Fprintf(w, "                 version %d's roots: %s\n", v.Version-1, v.PreviousRoots.text())
		}
		if v.AnchorRoots != nil {
			fmt.Fprintf(w, "                 the roots given: %s\n", v.AnchorRoots.text())
		}
		for _, s := range v.Signatures {
			if s.Root > 0 {
				continue
			}
			where := "a root of no version given"
			switch {
			case s.PreviousRoot != nil && *s.PreviousRoot > 0:
				where = fmt.Sprintf("root %d of version %d", *s.PreviousRoot, v.Version-1)
			case s.AnchorRoot != nil && *s.AnchorRoot > 0:
				where = fmt.Sprintf("root %d of the roots given", *s.AnchorRoot)
			}
			verifies := ""
			if !s.Verifies {
				verifies = ", DOES NOT VERIFY"
			}
			fmt.Fprintf(w, "                 also %s (%s%s)\n", s.Key, where, verifies)
		}
		fmt.Fprintf(w, " Spec threshold: %d (distinct signers a specification needs)\n", v.SpecThreshold)
		fmt.Fprintf(w, "        Signers: %d\n", len(v.Signers))
		for _, s := range v.Signers {
			expired := "expires"
			if s.Expired {
				expired = "EXPIRED"
			}
			fmt.Fprintf(w, "                 %s %s (%s) %s %s\n", s.Name, s.Key, strings.Join(s.Machines, ", "), expired, s.Expires.Format(time.RFC3339))
		}
	}
	fmt.Fprintln(w)
	switch {
	case d.Trusted:
		fmt.Fprintf(w, "Trusted: keyring version %d (from the %s)\n", d.TrustedVersion, d.Anchor.From)
	case d.TrustedVersion > 0:
		fmt.Fprintf(w, "NOT TRUSTED: a node holds keyring version %d at most: %s\n", d.TrustedVersion, d.Problem)
	default:
		fmt.Fprintf(w, "NOT TRUSTED: %s\n", d.Problem)
	}
}

// text says a quorum in words: "2 of 3, 2 needed, met".
func (q quorum) text() string {
	met := "met"
	if !q.Met {
		met = "NOT MET"
	}
	return fmt.Sprintf("%d of %d, %d needed, %s", q.Signed, q.Of, q.Needed, met)
}

// signedMark says whether key signed: "signed", "signature DOES NOT VERIFY" or "-".
func signedMark(sigs []keyringSignatureDoc, key string) string {
	for _, s := range sigs {
		if s.Key == key {
			if s.Verifies {
				return "signed"
			}
			return "signature DOES NOT VERIFY"
		}
	}
	return "-"
}

// hexKeys is keys in hex.
func hexKeys(keys []ed25519.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = hex.EncodeToString(k)
	}
	return out
}
