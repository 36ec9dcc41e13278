package spec

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// Signer is an online signer a keyring names: its key signs specifications for the machines
// whose names match one of its patterns, until it expires.
type Signer struct {
	// Name says who it is, for reports ("web-team").
	Name string
	// Key is its ed25519 public key.
	Key ed25519.PublicKey
	// Machines are the machine-name patterns (path.Match syntax: "web-*", "*") it may sign for.
	Machines []string
	// Expires is when its signatures stop counting.
	Expires time.Time
}

// Covers tells whether the signer may sign for the machine called name.
func (s Signer) Covers(name string) bool {
	for _, p := range s.Machines {
		if ok, err := path.Match(p, name); err == nil && ok {
			return true
		}
	}
	return false
}

// String names the signer with its scope: `web-team (web-*)`.
func (s Signer) String() string {
	return s.Name + " (" + strings.Join(s.Machines, ", ") + ")"
}

// Signers is what a node's keyring lets sign specifications: the online signers and how many
// distinct ones must sign. Package keyring makes it from a keyring whose roots it verified.
type Signers struct {
	// Keyring is the version of the keyring they come from, for reports.
	Keyring int64
	// List are the signers.
	List []Signer
	// Required is how many distinct signers must sign a specification, and must cover each of
	// its entries; at least 1.
	Required int
	// Unusable, when set, says why no signer counts now (the keyring expired, none was found):
	// specifications the signers signed are refused with it. List still decides which
	// accepted versions bind (Accepted.Binds), so that an unusable keyring lifts no floor.
	Unusable string
}

// Signing says who signed a specification that a keyring's signers verified, and so which
// machines it may change.
type Signing struct {
	// Keyring is the keyring's version.
	Keyring int64
	// Signers are the signers whose signatures counted.
	Signers []Signer
	// Required is how many of them must cover a machine.
	Required int
}

// Names lists the signers' names.
func (g *Signing) Names() []string {
	out := make([]string, len(g.Signers))
	for i, s := range g.Signers {
		out[i] = s.Name
	}
	return out
}

// Keys lists the signers' keys in hex.
func (g *Signing) Keys() []string {
	out := make([]string, len(g.Signers))
	for i, s := range g.Signers {
		out[i] = hex.EncodeToString(s.Key)
	}
	return out
}

// Covers tells whether enough of the signers may sign for the machine called name.
func (g *Signing) Covers(name string) bool {
	n := 0
	for _, s := range g.Signers {
		if s.Covers(name) {
			n++
		}
	}
	return n >= max(1, g.Required)
}

// ScopeError returns the refusal for a change to the machines called names (what: "entry",
// "removal of") outside the signers' scope.
func (g *Signing) ScopeError(what string, names ...string) error {
	scopes := make([]string, len(g.Signers))
	for i, s := range g.Signers {
		scopes[i] = s.String()
	}
	need := ""
	if g.Required > 1 {
		need = fmt.Sprintf(" (%d of them must cover it)", g.Required)
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(names) > 1 && what == "entry" {
		what = "entries"
	}
	return fmt.Errorf("%w: %w: %s %s: signed by %s%s", errs.ErrSignature, errs.ErrScope, what, strings.Join(quoted, ", "), strings.Join(scopes, "; "), need)
}

// judge decides which of the signers signed msg (a v2 payload) through env's signatures, at
// now, and refuses with errs.ErrSignature, with every reason, when fewer than Required
// distinct, unexpired signers did.
func (ss *Signers) judge(env *Envelope, now time.Time) (*Signing, error) {
	if ss.Unusable != "" {
		return nil, fmt.Errorf("%w: %w: no keyring signer counts: %s", errs.ErrSignature, errs.ErrKeyring, ss.Unusable)
	}
	keys := make([]ed25519.PublicKey, len(ss.List))
	for i, s := range ss.List {
		keys[i] = s.Key
	}
	signed, bad := SignedKeys(env.Payload, env.Signature, env.Signatures, keys)
	g := &Signing{Keyring: ss.Keyring, Required: max(1, ss.Required)}
	var notCounted []string
	for i, ok := range signed {
		s := ss.List[i]
		switch {
		case !ok:
		case !now.Before(s.Expires):
			notCounted = append(notCounted, fmt.Sprintf("signer %s expired at %s", s.Name, s.Expires.UTC().Format(time.RFC3339)))
		default:
			g.Signers = append(g.Signers, s)
		}
	}
	if len(g.Signers) >= g.Required {
		return g, nil
	}
	reasons := append(bad, notCounted...)
	have := "none"
	if len(g.Signers) > 0 {
		have = fmt.Sprintf("%d (%s)", len(g.Signers), strings.Join(g.Names(), ", "))
	}
	return nil, fmt.Errorf("%w: keyring version %d needs %d signature(s) of its signers, this specification has %s%s",
		errs.ErrSignature, ss.Keyring, g.Required, have, joinReasons(reasons))
}

// joinReasons is "; " + reasons, or "" for none.
func joinReasons(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return "; " + strings.Join(reasons, "; ")
}
