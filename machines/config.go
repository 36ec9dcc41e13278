package machines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/machines/spec"
)

// DefaultParallel is how many archives one reconcile downloads at once.
const DefaultParallel = 4

// DefaultSplay is the splay the node daemons (the Choria watcher, mms agent) use unless told
// otherwise: a fleet's nodes see a new specification in the same instant, and this spreads
// their downloads over a second while a change still lands in about one. Config's zero Splay
// means none (mms apply).
const DefaultSplay = time.Second

// Keyring is a keyring a node holds (package keyring's Keeper).
type Keyring interface {
	// Refresh walks to the newest keyring and returns its signers at now; keep says to write
	// the keyring reached (a preview writes nothing).
	Refresh(ctx context.Context, now time.Time, keep bool) *spec.Signers
}

// GovernorFunc enters the named governor for the entry called name before its download and
// returns the function that leaves it. The Choria watcher backs it with Choria's governors.
type GovernorFunc func(ctx context.Context, name, governor string) (release func(), err error)

// Config says how to reconcile one machines directory on one node.
type Config struct {
	// Dir is the machines directory, e.g. /etc/choria/machines; it must exist.
	Dir string
	// Node is what matchers are evaluated against.
	Node match.Node
	// Trust holds the trusted public keys, or the explicit permission to act unsigned.
	Trust spec.Trust
	// Keyring, when set, is the keyring the node holds: before each reconcile it is walked to
	// its newest version, and its signers (Trust.Signers) are what the specification is checked
	// against beside Trust.Keys.
	Keyring Keyring
	// Purge removes managed machines the specification no longer wants on this node.
	Purge bool
	// FullVerify re-hashes every installed file instead of trusting unchanged inode stamps.
	FullVerify bool
	// Fetch configures downloads; the zero value means fetch.DefaultOptions().
	Fetch fetch.Options
	// Sources adds archive sources by URL scheme (the NATS Object Store's obj://, say) beside
	// the HTTP fetcher Fetch configures, which keeps http and https.
	Sources map[string]Fetcher
	// AllowedSchemes lists the URL schemes a source may use (the allow_schemes setting): http
	// and https, which go to the HTTP fetcher, and schemes of Sources. Nil allows
	// Fetch.AllowedSchemes and every scheme in Sources. An allowed scheme nothing here reads
	// is refused with the reason.
	AllowedSchemes []string
	// CacheMaxBytes bounds the verified archives kept in DIR/.mms/archives (package cache), so
	// that reinstalling, reverting or repairing a machine whose archive is kept fetches
	// nothing; 0 keeps none. Hosts give cache.DefaultMaxBytes unless told otherwise.
	CacheMaxBytes int64
	// Archive limits extraction; the zero value means archive.DefaultLimits().
	Archive archive.Limits
	// Matcher bounds matchers; zero fields take match's defaults.
	Matcher match.Limits
	// Parallel bounds concurrent downloads; 0 means DefaultParallel.
	Parallel int
	// Splay is the longest random delay before a node's downloads start, so that a fleet
	// does not download in the same instant; 0 for none.
	Splay time.Duration
	// Retry, when set, remembers failed downloads across reconciles and holds an entry back
	// until its next attempt is due (see RetryMemory); nil retries at every reconcile.
	Retry *RetryMemory
	// ResetRollback judges the specification as if none had been accepted before in Dir, so
	// that a lower version is accepted; the record of the one before is replaced only once this
	// one is accepted (a refused specification changes nothing). The deliberate reset an
	// operator asks for, never a default.
	ResetRollback bool
	// Rollout, when set, stages the entries that carry a rollout policy: it admits their
	// changes wave by wave and says when to take one back. Without it such an entry's install
	// or update is refused (ErrNoStagedRollouts), never carried out at once.
	Rollout Rollout
	// Governor, when set, is entered before downloading an entry that names a governor.
	Governor GovernorFunc
	// GovernorTimeout bounds waiting for a governor; 0 means 5 minutes.
	GovernorTimeout time.Duration
	// Logger receives one line per action; nil logs nothing.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is told how each download progresses (a progress bar, a log line).
	Progress ProgressFunc
	// RaiseHint says, in the host's words, how to raise the limit named (errs.LimitError's
	// Name): "--max-download-bytes", "the max_download_bytes property". A failure or refusal
	// that hit a limit ends with it. Nil, or "", says nothing.
	RaiseHint func(limit string) string
}

// withHint returns err with the host's words on how to raise the limit it hit, when it hit
// one and the host says how; otherwise err itself.
func (c Config) withHint(err error) error {
	var le *errs.LimitError
	if err == nil || c.RaiseHint == nil || !errors.As(err, &le) {
		return err
	}
	if hint := c.RaiseHint(le.Name); hint != "" {
		return &hintedError{err: err, hint: hint}
	}
	return err
}

// hintedError is an error with the host's words on how to raise the limit it hit.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + " (raise it with " + e.hint + ")" }
func (e *hintedError) Unwrap() error { return e.err }

// withDefaults fills the zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		return c, fmt.Errorf("reconcile: no machines directory given")
	}
	if c.Fetch.MaxBytes == 0 && len(c.Fetch.AllowedSchemes) == 0 {
		logger := c.Fetch.Logger
		c.Fetch = fetch.DefaultOptions()
		c.Fetch.Logger = logger
	}
	if c.Archive == (archive.Limits{}) {
		c.Archive = archive.DefaultLimits()
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.GovernorTimeout <= 0 {
		c.GovernorTimeout = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
