package keyring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/install"
	"github.com/mms-io/mms/machines/spec"
)

// held is that file: the anchor that led to the keyring, and its document.
type held struct {
	Anchor   string          `json:"anchor"`
	Document json.RawMessage `json:"document"`
}

// Keeper keeps a node's keyring: before each reconcile it walks from the keyring it holds to
// the newest one Fetch gives and writes where it got to DIR/.mms/keyring.json (durably: a
// keyring never goes back in version, also across a crash). Its zero value is not usable: set
// Anchor, Fetch and Dir.
type Keeper struct {
	// Anchor is the configured roots and threshold.
	Anchor Anchor
	// Fetch reads a keyring version.
	Fetch Fetcher
	// Where says where Fetch reads, for logs ("kv MACHINES/machines.keyring.N").
	Where string
	// Dir is the machines directory whose .mms keeps the keyring reached.
	Dir string
	// MaxSteps bounds one walk; 0 means DefaultMaxSteps.
	MaxSteps int
	// Logger receives what the keeper did; nil discards.
	Logger *slog.Logger

	mu      sync.Mutex
	loaded  bool
	current *Keyring
}

// Refresh walks to the newest keyring and returns the signers to check specifications against
// at now; keep says to write the keyring reached (a dry run keeps nothing). It never fails: a keyring that cannot be read or trusted leaves the node with the one
// it holds, and with none the signers are unusable, with the reason (every specification they
// would have signed is then refused with it; bare trusted keys are unaffected).
func (kp *Keeper) Refresh(ctx context.Context, now time.Time, keep bool) *spec.Signers {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	log := kp.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !kp.loaded {
		k, err := kp.load()
		if err != nil {
			log.Error("could not read the keyring this node held; starting again from the configured roots", "file", kp.path(), "error", err)
		}
		kp.current, kp.loaded = k, true
	}
	before := kp.current
	k, w := Walk(ctx, kp.Anchor, before, kp.Fetch, kp.MaxSteps)
	for _, err := range w.Skipped {
		log.Info("passing over a keyring version the configured roots do not vouch for", "where", kp.Where, "reason", err)
	}
	switch {
	case w.Unread != nil:
		log.Warn("could not read the next keyring version; keeping the one held", "where", kp.Where, "held", version(k), "error", w.Unread)
	case w.Refused != nil:
		log.Warn("keeping the keyring held: the next version is refused", "where", kp.Where, "held", version(k), "error", w.Refused)
	}
	if w.More {
		log.Warn("more keyring versions remain than one walk reads; going on at the next reconcile", "where", kp.Where, "reached", version(k))
	}
	if k != before {
		// Only a keyring kept on disk is held: one that could not be written, or a dry run's,
		// is walked to again next time, and so never lost across a restart.
		switch err := kp.keep(keep, k); {
		case err != nil:
			log.Error("could not keep the keyring reached; it is walked to again next time", "file", kp.path(), "error", err)
		case keep:
			kp.current = k
			log.Info("keyring updated", "from", version(before), "to", k.Version, "signers", len(k.Signers), "spec_threshold", k.SpecThreshold, "expires", stamp(k.Expires))
		}
	}
	if k == nil {
		reason := fmt.Sprintf("no keyring that the configured roots vouch for is found at %s", kp.Where)
		if err := errors.Join(w.Unread, w.Refused); err != nil {
			reason += ": " + err.Error()
		} else if n := len(w.Skipped); n > 0 {
			reason += ": " + w.Skipped[n-1].Error()
		}
		return &spec.Signers{Unusable: reason}
	}
	return k.Trust(now)
}

// Current returns the keyring held, nil when none.
func (kp *Keeper) Current() *Keyring {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	return kp.current
}

// version is k's version, 0 for none.
func version(k *Keyring) int64 {
	if k == nil {
		return 0
	}
	return k.Version
}

// load reads the keyring held: none when the file is missing or another anchor led to it. It is
// parsed and its own roots' signatures checked again, so that a damaged file is refused.
func (kp *Keeper) load() (*Keyring, error) {
	data, err := os.ReadFile(kp.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h held
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errs.ErrKeyring, kp.path(), err)
	}
	if h.Anchor != kp.Anchor.Fingerprint() {
		return nil, nil
	}
	k, err := Parse(h.Document)
	if err == nil {
		err = k.SelfSigned()
	}
	return k, err
}

// keep writes k as the keyring held, durably, when told to.
func (kp *Keeper) keep(write bool, k *Keyring) error {
	if !write {
		return nil
	}
	doc, err := k.Document()
	if err != nil {
		return err
	}
	data, err := json.Marshal(held{Anchor: kp.Anchor.Fingerprint(), Document: doc})
	if err != nil {
		return err
	}
	path, err := install.StatePath(kp.Dir, install.KeyringName)
	if err != nil {
		return err
	}
	return renameio.WriteFile(path, data, 0o600)
}

// path is the state file, for reading and logs.
func (kp *Keeper) path() string { return install.StatePathFor(kp.Dir, install.KeyringName) }
