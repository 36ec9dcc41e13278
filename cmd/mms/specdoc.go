package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// specDoc is a specification as mms verify and mms get show it, and their --json output
// (schemas "mms.verify.v1" and "mms.get.v1"). It never holds a password.
type specDoc struct {
	Schema string `json:"schema"`
	// From is where the specification was read: a file name, or BUCKET/KEY.
	From string `json:"from"`
	// KV is where mms get found it; absent for mms verify.
	KV       *kvDoc `json:"kv,omitempty"`
	Envelope string `json:"envelope"`
	Format   int    `json:"format"`
	// Version, Issued and Expires are v2's; Expires is absent when it never expires.
	Version int64      `json:"version,omitempty"`
	Issued  *time.Time `json:"issued,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Requires are the features the specification requires, every one known to this mms
	// (one that requires another does not open); empty when none.
	Requires []string `json:"requires"`
	// Rollout is the v2 specification's default rollout policy; absent when none.
	Rollout *rolloutDoc `json:"rollout,omitempty"`
	// Signed is true when one of the keys given verified the signature: Signer, in hex, the
	// SignerIndex-th (from 1) of KeysGiven; or when the signers of Keyring did.
	Signed      bool   `json:"signed"`
	Signer      string `json:"signer,omitempty"`
	SignerIndex int    `json:"signer_index,omitempty"`
	KeysGiven   int    `json:"keys_given"`
	// Keyring is the keyring mms verify --keyring verified the specification through: absent
	// otherwise.
	Keyring *keyringUseDoc `json:"keyring,omitempty"`
	Digest  string         `json:"digest"`
	Entries []entryDoc     `json:"entries"`
	// Unknown are fields this mms does not know, which nodes ignore.
	Unknown []string `json:"unknown"`
	// Admissible is true when a node would take it now (not expired, not issued ahead);
	// Problem says why not.
	Admissible bool   `json:"admissible"`
	Problem    string `json:"problem,omitempty"`

	command string // verify or get, for errors
}

// kvDoc is where a specification is stored.
type kvDoc struct {
	Bucket   string    `json:"bucket"`
	Key      string    `json:"key"`
	Revision uint64    `json:"revision"`
	Stored   time.Time `json:"stored"`
}

// entryDoc is one entry of a specDoc: credentials are never shown, neither the username nor
// the password.
type entryDoc struct {
	Name           string `json:"name"`
	Source         string `json:"source"`
	Checksum       string `json:"checksum"`
	VerifyChecksum string `json:"verify_checksum"`
	Match          string `json:"match"`
	// Credentials says the entry carries a username and password for its source; neither is
	// ever shown.
	Credentials bool   `json:"credentials"`
	Governor    string `json:"governor,omitempty"`
	// Rollout is the entry's effective rollout policy (its own, or the default); absent when
	// none.
	Rollout *rolloutDoc `json:"rollout,omitempty"`
	// InScope and CoveredBy, when keyring signers verified the specification: the entry is
	// within the scope of enough of them, and the names of those whose patterns cover it.
	InScope   *bool    `json:"in_scope,omitempty"`
	CoveredBy []string `json:"covered_by,omitempty"`
}

// keyringUseDoc is the keyring a specification was verified through.
type keyringUseDoc struct {
	// Version is the newest keyring version the walk trusted, which decided.
	Version int64     `json:"version"`
	Expires time.Time `json:"expires"`
	// SpecThreshold is how many distinct signers it requires.
	SpecThreshold int `json:"spec_threshold"`
	// Anchor is "roots given" (--keyring-root) or "own roots" (the lowest version's own).
	Anchor string `json:"anchor"`
	// Files are the keyring files given.
	Files []string `json:"files"`
	// Signers are its signers whose signatures counted; empty when a bare key given verified
	// the specification (which may then change any machine).
	Signers []keyringSignerDoc `json:"signers"`
}

// addKeyring records in d the keyring of chain that s was verified through, and each entry's
// scope.
func (d *specDoc) addKeyring(chain *keyringChain, s *spec.Spec) {
	k := chain.trusted
	kd := &keyringUseDoc{Version: k.Version, Expires: k.Expires.UTC(), SpecThreshold: k.SpecThreshold, Anchor: "roots given", Signers: []keyringSignerDoc{}}
	if chain.self {
		kd.Anchor = "own roots"
	}
	for _, f := range chain.files {
		kd.Files = append(kd.Files, f.file)
	}
	d.Keyring = kd
	if s.Signing == nil {
		return
	}
	for _, g := range s.Signing.Signers {
		kd.Signers = append(kd.Signers, keyringSignerDoc{Name: g.Name, Key: hex.EncodeToString(g.Key), Machines: g.Machines, Expires: g.Expires.UTC()})
	}
	for i := range d.Entries {
		e := &d.Entries[i]
		in := s.Signing.Covers(e.Name)
		e.InScope, e.CoveredBy = &in, []string{}
		for _, g := range s.Signing.Signers {
			if g.Covers(e.Name) {
				e.CoveredBy = append(e.CoveredBy, g.Name)
			}
		}
	}
}

// rolloutDoc is a rollout policy as mms verify and mms get show it: its wire form with every
// default filled in (lists empty when none; health_timeout only with a health_command), the
// one-line summary and, for an entry, where it comes from.
type rolloutDoc struct {
	Waves           []string `json:"waves"`
	Bake            string   `json:"bake"`
	HealthyStates   []string `json:"healthy_states"`
	FailedStates    []string `json:"failed_states"`
	HealthyDeadline string   `json:"healthy_deadline"`
	HealthCommand   []string `json:"health_command"`
	HealthTimeout   string   `json:"health_timeout,omitempty"`
	MaxUnhealthy    string   `json:"max_unhealthy"`
	OnHalt          string   `json:"on_halt"`
	Summary         string   `json:"summary"`
	// From is "entry" (the entry's own policy) or "default" (the specification's); absent for
	// the default itself.
	From string `json:"from,omitempty"`
}

// newRolloutDoc describes p, nil for none; from says where an entry's policy comes from (""
// for the default itself).
func newRolloutDoc(p *rollout.Policy, from string) *rolloutDoc {
	if p == nil {
		return nil
	}
	d := &rolloutDoc{}
	// The wire form, as the policy writes itself: the document cannot drift from it. A policy
	// that opened always writes.
	if wire, err := json.Marshal(p); err == nil {
		_ = json.Unmarshal(wire, d)
	}
	for _, l := range []*[]string{&d.Waves, &d.HealthyStates, &d.FailedStates, &d.HealthCommand} {
		if *l == nil {
			*l = []string{}
		}
	}
	d.Summary, d.From = p.Summary(), from
	return d
}

// newSpecDoc describes s for command (verify or get), read from from and opened with keys
// keys given, judged as a node would judge it now.
func newSpecDoc(command, from string, s *spec.Spec, keys int, now time.Time) *specDoc {
	d := &specDoc{Schema: "mms." + command + ".v1", From: from, Envelope: string(s.Kind), Format: s.Format, Version: s.Version,
		Signed: s.Signed(), Signer: s.Signer, SignerIndex: s.SignedBy + 1, KeysGiven: keys, Digest: s.Digest,
		Requires: append([]string{}, s.Requires...), Entries: []entryDoc{}, Unknown: append([]string{}, s.Unknown...), command: command}
	d.Rollout = newRolloutDoc(s.Rollout, "")
	if s.Format == 2 {
		issued := s.Issued.UTC()
		d.Issued = &issued
		if !s.Expires.IsZero() {
			expires := s.Expires.UTC()
			d.Expires = &expires
		}
	}
	for _, e := range s.Entries {
		from := "entry"
		if e.Rollout == s.Rollout {
			from = "default"
		}
		d.Entries = append(d.Entries, entryDoc{Name: e.Name, Source: fetch.Source{URL: e.Source}.String(), Checksum: e.Checksum,
			VerifyChecksum: e.VerifyChecksum, Match: e.Match, Credentials: e.Username != "" || e.Password != "", Governor: e.Governor,
			Rollout: newRolloutDoc(e.Rollout, from)})
	}
	if err := spec.Admit(s, nil, spec.Trust{}, now); err != nil {
		d.Problem = err.Error()
	} else {
		d.Admissible = true
	}
	return d
}

// print prints d as text.
func (d *specDoc) print(w io.Writer) {
	fmt.Fprintf(w, "Specification %s\n", d.From)
	fmt.Fprintf(w, "   Envelope: %s\n", d.Envelope)
	fmt.Fprintf(w, "     Format: v%d\n", d.Format)
	if d.Format == 2 {
		fmt.Fprintf(w, "    Version: %d\n", d.Version)
		fmt.Fprintf(w, "     Issued: %s\n", d.Issued.Format(time.RFC3339))
		if d.Expires == nil {
			fmt.Fprintf(w, "    Expires: never\n")
		} else {
			fmt.Fprintf(w, "    Expires: %s\n", d.Expires.Format(time.RFC3339))
		}
		if len(d.Requires) > 0 {
			fmt.Fprintf(w, "   Requires: %s\n", strings.Join(d.Requires, ", "))
		}
		if d.Rollout != nil {
			fmt.Fprintf(w, "    Rollout: %s (the default)\n", d.Rollout.Summary)
		}
	}
	switch {
	case d.Signed && d.Signer != "":
		fmt.Fprintf(w, "  Signature: verified by key %s (%d of %d)\n", d.Signer, d.SignerIndex, d.KeysGiven)
	case d.Signed && d.Keyring != nil && len(d.Keyring.Signers) > 0:
		names := make([]string, len(d.Keyring.Signers))
		for i, g := range d.Keyring.Signers {
			names[i] = g.Name
		}
		fmt.Fprintf(w, "  Signature: verified by keyring signers %s (%d needed)\n", strings.Join(names, ", "), d.Keyring.SpecThreshold)
	default:
		fmt.Fprintf(w, "  Signature: NOT VERIFIED\n")
	}
	if k := d.Keyring; k != nil {
		fmt.Fprintf(w, "    Keyring: version %d (trusted from the %s), spec threshold %d, expires %s\n", k.Version, k.Anchor, k.SpecThreshold, k.Expires.Format(time.RFC3339))
		for _, g := range k.Signers {
			fmt.Fprintf(w, "             %s %s (%s)\n", g.Name, g.Key, strings.Join(g.Machines, ", "))
		}
	}
	fmt.Fprintf(w, "     Digest: %s\n", d.Digest)
	fmt.Fprintf(w, "    Entries: %d\n", len(d.Entries))
	for _, e := range d.Entries {
		match := e.Match
		if match == "" {
			match = "(every node)"
		}
		fmt.Fprintf(w, "\n  %s\n", e.Name)
		fmt.Fprintf(w, "           source: %s\n", e.Source)
		fmt.Fprintf(w, "         checksum: %s\n", e.Checksum)
		fmt.Fprintf(w, "  verify_checksum: %s\n", e.VerifyChecksum)
		fmt.Fprintf(w, "            match: %s\n", match)
		if e.Credentials {
			fmt.Fprintf(w, "      credentials: set (never shown)\n")
		}
		if e.Governor != "" {
			fmt.Fprintf(w, "         governor: %s\n", e.Governor)
		}
		if e.InScope != nil {
			scope := "within the scope of " + strings.Join(e.CoveredBy, ", ")
			if !*e.InScope {
				scope = "OUTSIDE the signers' scope"
			}
			fmt.Fprintf(w, "            scope: %s\n", scope)
		}
		if e.Rollout != nil {
			from := "its own"
			if e.Rollout.From == "default" {
				from = "the default"
			}
			fmt.Fprintf(w, "          rollout: %s (%s)\n", e.Rollout.Summary, from)
		}
	}
	for _, u := range d.Unknown {
		fmt.Fprintf(w, "\n  note: %s is not known to this mms and is ignored\n", u)
	}
}

// show prints d as JSON or text, and returns the error a node's refusal makes of it.
func (d *specDoc) show(w io.Writer, asJSON bool) error {
	if asJSON {
		if err := writeJSON(w, d); err != nil {
			return err
		}
	} else {
		d.print(w)
	}
	if !d.Admissible {
		return fmt.Errorf("%s %s: %s", d.command, d.From, d.Problem)
	}
	return nil
}
