package nodeloop

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/cache"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
	"github.com/mms-io/mms/objstore"
)

// Settings are a node's knobs: the limits of one reconcile and the loop's rhythm. Every one is
// declared once, in Table, with its name, unit, default, bounds and help; the Choria watcher's
// properties and the CLI's flags are made from that table, so a new knob is one row.
type Settings struct {
	Purge              bool
	Interval           time.Duration
	FullVerifyInterval time.Duration
	Splay              time.Duration
	Parallel           int
	AllowSchemes       []string
	MaxDownloadBytes   int64
	DownloadTimeout    time.Duration
	MaxRedirects       int
	MaxUnpackedBytes   int64
	MaxFiles           int
	MaxPathLength      int
	CacheMaxBytes      int64
	RolloutPoll        time.Duration
	Matcher            match.Limits
}

// Scope says which hosts a setting concerns.
type Scope int

const (
	// ScopeReconcile settings shape every reconcile: mms apply, mms agent, the watcher.
	ScopeReconcile Scope = iota
	// ScopeLoop settings shape a loop that runs on: mms agent and the watcher.
	ScopeLoop
)

// Kind is a setting's type and unit.
type Kind string

// The kinds of setting.
const (
	KindBool     Kind = "bool"
	KindCount    Kind = "count"
	KindBytes    Kind = "bytes"
	KindDuration Kind = "duration"
	KindSchemes  Kind = "schemes"
)

// Setting is one knob, declared once.
type Setting struct {
	// Name is the knob's one name: the watcher property, and (with dashes) the CLI flag, unless
	// Flag says otherwise. A limit's name is also the one its error names (errs.LimitError).
	Name string
	// Flag overrides the flag name where the CLI had its own before the table (--purge,
	// --allow-scheme): the property keeps Name.
	Flag string
	// Kind is its type and unit.
	Kind Kind
	// Scope says which hosts it concerns.
	Scope Scope
	// Help says what it bounds or does, for --help and the README's table.
	Help string
	// Min and Max bound it, in its unit (nanoseconds for durations); Max 0 means no bound above.
	Min, Max int64

	get func(*Settings) any
	set func(*Settings, any)
}

// FlagName is the setting's CLI flag, without dashes in front.
func (s Setting) FlagName() string {
	if s.Flag != "" {
		return s.Flag
	}
	return strings.ReplaceAll(s.Name, "_", "-")
}

// MinInterval is the shortest interval a loop accepts. (Choria's watchers keep their own
// minimum of two seconds on top.)
const MinInterval = 10 * time.Millisecond

// MaxSplay is the longest splay accepted.
const MaxSplay = time.Hour

// Table is every setting, in the order help shows them.
var Table = []Setting{
	{Name: "purge_unknown", Flag: "purge", Kind: KindBool, Scope: ScopeReconcile,
		Help: "Removes machines mms installed that the specification no longer wants on this node",
		get:  func(s *Settings) any { return s.Purge }, set: func(s *Settings, v any) { s.Purge = v.(bool) }},
	{Name: "interval", Kind: KindDuration, Scope: ScopeLoop, Min: int64(MinInterval),
		Help: "How often to re-verify and repair the machines directory and read the key, besides watching it",
		get:  func(s *Settings) any { return s.Interval }, set: func(s *Settings, v any) { s.Interval = v.(time.Duration) }},
	{Name: "full_verify_interval", Kind: KindDuration, Scope: ScopeLoop,
		Help: "How often to re-hash every installed file (0: only files whose size, times or inode changed)",
		get:  func(s *Settings) any { return s.FullVerifyInterval }, set: func(s *Settings, v any) { s.FullVerifyInterval = v.(time.Duration) }},
	{Name: "splay", Kind: KindDuration, Scope: ScopeLoop, Max: int64(MaxSplay),
		Help: "The longest random wait before this node downloads, so that a fleet does not fetch in the same instant (0 for none)",
		get:  func(s *Settings) any { return s.Splay }, set: func(s *Settings, v any) { s.Splay = v.(time.Duration) }},
	{Name: "parallel", Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "How many archives to download at once",
		get:  func(s *Settings) any { return s.Parallel }, set: func(s *Settings, v any) { s.Parallel = v.(int) }},
	{Name: "allow_schemes", Flag: "allow-scheme", Kind: KindSchemes, Scope: ScopeReconcile,
		Help: "The URL schemes archives may be fetched over (" + strings.Join(knownSchemes(), ", ") + "; obj is the NATS Object Store, over the node's own connection)",
		get:  func(s *Settings) any { return s.AllowSchemes }, set: func(s *Settings, v any) { s.AllowSchemes = v.([]string) }},
	{Name: fetch.LimitMaxBytes, Kind: KindBytes, Scope: ScopeReconcile, Min: 1,
		Help: "Largest archive downloaded",
		get:  func(s *Settings) any { return s.MaxDownloadBytes }, set: func(s *Settings, v any) { s.MaxDownloadBytes = v.(int64) }},
	{Name: fetch.LimitTimeout, Kind: KindDuration, Scope: ScopeReconcile, Min: int64(time.Millisecond),
		Help: "Longest one download may take, retries included",
		get:  func(s *Settings) any { return s.DownloadTimeout }, set: func(s *Settings, v any) { s.DownloadTimeout = v.(time.Duration) }},
	{Name: fetch.LimitMaxRedirects, Kind: KindCount, Scope: ScopeReconcile, Min: 0,
		Help: "Most HTTP redirects followed for one download (0 follows none)",
		get:  func(s *Settings) any { return s.MaxRedirects }, set: func(s *Settings, v any) { s.MaxRedirects = v.(int) }},
	{Name: archive.LimitMaxUnpackedBytes, Kind: KindBytes, Scope: ScopeReconcile, Min: 1,
		Help: "Largest total unpacked size of one archive",
		get:  func(s *Settings) any { return s.MaxUnpackedBytes }, set: func(s *Settings, v any) { s.MaxUnpackedBytes = v.(int64) }},
	{Name: archive.LimitMaxFiles, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Most files and directories in one archive",
		get:  func(s *Settings) any { return s.MaxFiles }, set: func(s *Settings, v any) { s.MaxFiles = v.(int) }},
	{Name: archive.LimitMaxPathLength, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Longest name of a file in an archive, in bytes",
		get:  func(s *Settings) any { return s.MaxPathLength }, set: func(s *Settings, v any) { s.MaxPathLength = v.(int) }},
	{Name: "cache_max_bytes", Kind: KindBytes, Scope: ScopeReconcile, Min: 0,
		Help: "Most bytes of verified archives kept in DIR/.mms/archives, so that a reinstall, a revert or a repair fetches nothing (least recently used go first; 0 keeps none)",
		get:  func(s *Settings) any { return s.CacheMaxBytes }, set: func(s *Settings, v any) { s.CacheMaxBytes = v.(int64) }},
	{Name: "rollout_poll", Kind: KindDuration, Scope: ScopeLoop, Min: int64(MinInterval), Max: int64(time.Hour),
		Help: "How often this node reads the gate of a staged change in flight here and checks the health of one it took (two batched reads, whatever the fleet size)",
		get:  func(s *Settings) any { return s.RolloutPoll }, set: func(s *Settings, v any) { s.RolloutPoll = v.(time.Duration) }},
	{Name: match.LimitLength, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Longest matcher expression, in characters",
		get:  func(s *Settings) any { return s.Matcher.MaxLength }, set: func(s *Settings, v any) { s.Matcher.MaxLength = v.(int) }},
	{Name: match.LimitNodes, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Largest matcher expression, in syntax nodes",
		get:  func(s *Settings) any { return s.Matcher.MaxNodes }, set: func(s *Settings, v any) { s.Matcher.MaxNodes = v.(int) }},
	{Name: match.LimitSteps, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Most loop iterations and calls of one matcher evaluation",
		get:  func(s *Settings) any { return s.Matcher.MaxSteps }, set: func(s *Settings, v any) { s.Matcher.MaxSteps = v.(int) }},
	{Name: match.LimitBytes, Kind: KindCount, Scope: ScopeReconcile, Min: 1,
		Help: "Most bytes one matcher evaluation may build or read from the facts",
		get:  func(s *Settings) any { return s.Matcher.MaxBytes }, set: func(s *Settings, v any) { s.Matcher.MaxBytes = v.(int) }},
	{Name: match.LimitTime, Kind: KindDuration, Scope: ScopeReconcile, Min: int64(time.Millisecond),
		Help: "Longest one matcher evaluation may run",
		get:  func(s *Settings) any { return s.Matcher.MaxTime }, set: func(s *Settings, v any) { s.Matcher.MaxTime = v.(time.Duration) }},
}

// knownSchemes are the archive sources' URL schemes a node may allow, and allows by default:
// HTTP's and the Object Store's.
func knownSchemes() []string { return append(fetch.SupportedSchemes(), objstore.Scheme) }

// DefaultSettings are the settings of a node told nothing.
func DefaultSettings() Settings {
	fd, al := fetch.DefaultOptions(), archive.DefaultLimits()
	return Settings{
		Interval:         DefaultInterval,
		Splay:            machines.DefaultSplay,
		Parallel:         machines.DefaultParallel,
		AllowSchemes:     knownSchemes(),
		MaxDownloadBytes: fd.MaxBytes,
		DownloadTimeout:  fd.Timeout,
		MaxRedirects:     fd.MaxRedirects,
		MaxUnpackedBytes: al.MaxUnpackedBytes,
		MaxFiles:         al.MaxFiles,
		MaxPathLength:    al.MaxPathLength,
		CacheMaxBytes:    cache.DefaultMaxBytes,
		RolloutPoll:      DefaultRolloutPoll,
		Matcher: match.Limits{MaxLength: match.DefaultMaxLength, MaxNodes: match.DefaultMaxNodes,
			MaxSteps: match.DefaultMaxSteps, MaxBytes: match.DefaultMaxBytes, MaxTime: match.DefaultMaxTime},
	}
}

// Lookup returns the setting called name (its property name or its flag name).
func Lookup(name string) (Setting, bool) {
	for _, s := range Table {
		if s.Name == name || s.FlagName() == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Get returns the setting's value in s, as its text form (what Set takes back).
func (st Setting) Get(s *Settings) string { return format(st.Kind, st.get(s)) }

// Set parses value as the setting's kind, checks its bounds and stores it in s. The error
// names the setting, the value and the bound.
func (st Setting) Set(s *Settings, value string) error {
	v, err := st.parse(strings.TrimSpace(value))
	if err != nil {
		return fmt.Errorf("setting %s: %w", st.Name, err)
	}
	st.set(s, v)
	return nil
}

func (st Setting) parse(value string) (any, error) {
	switch st.Kind {
	case KindBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", value)
		}
		return b, nil
	case KindSchemes:
		var out []string
		for _, s := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' }) {
			s = strings.ToLower(s)
			if !slices.Contains(knownSchemes(), s) {
				return nil, fmt.Errorf("scheme %q is not supported (supported: %s)", s, strings.Join(knownSchemes(), ", "))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("list at least one of %s", strings.Join(knownSchemes(), ", "))
		}
		return out, nil
	case KindDuration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 30s or 5m", value)
		}
		if err := st.bound(int64(d), d.String()); err != nil {
			return nil, err
		}
		return d, nil
	default: // counts and bytes
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", value)
		}
		if err := st.bound(n, value); err != nil {
			return nil, err
		}
		if st.Kind == KindBytes {
			return n, nil
		}
		return int(n), nil
	}
}

// bound checks n against Min and Max; zero never means unlimited.
func (st Setting) bound(n int64, shown string) error {
	if n < st.Min {
		return fmt.Errorf("%s is below the minimum of %s", shown, format(st.Kind, st.Min))
	}
	if st.Max > 0 && n > st.Max {
		return fmt.Errorf("%s is above the maximum of %s", shown, format(st.Kind, st.Max))
	}
	return nil
}

// format writes a value of kind as Set reads it.
func format(k Kind, v any) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, ",")
	case int64:
		if k == KindDuration {
			return time.Duration(x).String()
		}
	}
	return fmt.Sprint(v)
}

// Apply sets what the settings say in cfg: purge, parallelism, splay and every limit. The
// loop's own settings (interval, full-verify interval) are the host's to give the Loop.
func (s Settings) Apply(cfg *machines.Config) {
	logger := cfg.Fetch.Logger
	cfg.Fetch = fetch.DefaultOptions()
	cfg.Fetch.Logger = logger
	// the HTTP fetcher takes the HTTP ones; machines.Config.AllowedSchemes gates the others
	cfg.AllowedSchemes = slices.Clone(s.AllowSchemes)
	cfg.Fetch.AllowedSchemes = slices.DeleteFunc(slices.Clone(s.AllowSchemes), func(scheme string) bool {
		return !slices.Contains(fetch.SupportedSchemes(), scheme)
	})
	cfg.Fetch.MaxBytes, cfg.Fetch.Timeout, cfg.Fetch.MaxRedirects = s.MaxDownloadBytes, s.DownloadTimeout, s.MaxRedirects
	cfg.Archive = archive.Limits{MaxUnpackedBytes: s.MaxUnpackedBytes, MaxFiles: s.MaxFiles, MaxPathLength: s.MaxPathLength}
	cfg.CacheMaxBytes = s.CacheMaxBytes
	cfg.Matcher = s.Matcher
	cfg.Purge = s.Purge
	cfg.Parallel = s.Parallel
	cfg.Splay = s.Splay
}
