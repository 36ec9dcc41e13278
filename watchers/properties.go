package watchers

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/choria-io/go-choria/aagent/util"
	"github.com/mitchellh/mapstructure"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/fetch"
	"github.com/mms-io/mms/machines/match"
)

// Defaults for the properties an operator may leave out. Zero is never a valid limit.
const (
	// DefaultInterval is how often installed machines are re-verified when no interval is given.
	DefaultInterval = 5 * time.Minute
	// MinInterval is the shortest interval accepted, as in go-choria v0.29.4.
	MinInterval = 2 * time.Second
	// DefaultMaxDownloadBytes bounds one archive download (max_download_bytes): 256 MiB.
	DefaultMaxDownloadBytes int64 = fetch.DefaultMaxBytes
	// DefaultMaxUnpackedBytes bounds the bytes one archive unpacks to (max_unpacked_bytes).
	DefaultMaxUnpackedBytes int64 = archive.DefaultMaxUnpackedBytes
	// DefaultMaxFiles bounds the files and directories one archive holds (max_files).
	DefaultMaxFiles = archive.DefaultMaxFiles
	// DefaultDownloadTimeout bounds one whole download, retries included (download_timeout).
	DefaultDownloadTimeout = fetch.DefaultTimeout
	// DefaultGovernorTimeout bounds waiting for a slot in an entry's governor (governor_timeout).
	DefaultGovernorTimeout = 5 * time.Minute
	// DefaultSplay is the longest random wait before a node's downloads start (splay); set
	// splay: 0s where one node must act at once.
	DefaultSplay = machines.DefaultSplay
	// MaxSplay is the longest splay accepted.
	MaxSplay = time.Hour
)

// DefaultAllowSchemes are the archive URL schemes allowed when allow_schemes is not given.
var DefaultAllowSchemes = []string{"http", "https"}

// legacyProperties are go-choria v0.29.4 machines watcher properties that mean nothing here;
// they are accepted, with a warning, so that existing machine.yaml files keep loading.
var legacyProperties = []string{"machine_manage_interval"}

// Properties are the watcher's settings from machine.yaml, decoded with snake_case names.
type Properties struct {
	// DataItem names the machine data item that holds the specification envelope, as filled
	// by a `kv` watcher. Exclusive with Bucket and Key.
	DataItem string `mapstructure:"data_item"`
	// Bucket is the NATS KV bucket to watch. Needs Key; exclusive with DataItem.
	Bucket string `mapstructure:"bucket"`
	// Key is the key in Bucket that holds the specification envelope.
	Key string `mapstructure:"key"`
	// PurgeUnknown removes machines mms installed that a valid specification no longer lists.
	PurgeUnknown bool `mapstructure:"purge_unknown"`
	// PublicKey holds trusted ed25519 public keys, 64 hex characters each: one string or a list.
	PublicKey []string `mapstructure:"public_key"`
	// MachinesDirectory is where machines are installed; by default the parent of this
	// machine's own directory (the Choria machines directory).
	MachinesDirectory string `mapstructure:"machines_directory"`
	// FullVerifyInterval, when set, re-hashes every installed file that often even when
	// nothing seems changed; otherwise the core's cheap checks decide.
	FullVerifyInterval *time.Duration `mapstructure:"full_verify_interval"`
	// MaxDownloadBytes bounds one archive download.
	MaxDownloadBytes *int64 `mapstructure:"max_download_bytes"`
	// MaxUnpackedBytes bounds the bytes one archive unpacks to.
	MaxUnpackedBytes *int64 `mapstructure:"max_unpacked_bytes"`
	// MaxFiles bounds the files and directories in one archive.
	MaxFiles *int `mapstructure:"max_files"`
	// DownloadTimeout bounds one whole download.
	DownloadTimeout *time.Duration `mapstructure:"download_timeout"`
	// GovernorTimeout bounds waiting for a slot in an entry's governor.
	GovernorTimeout *time.Duration `mapstructure:"governor_timeout"`
	// AllowSchemes lists the URL schemes archive sources may use: http and/or https.
	AllowSchemes []string `mapstructure:"allow_schemes"`
	// Splay is the longest random wait before this node's downloads start, so that a fleet
	// does not fetch from the source in one instant, e.g. "10s".
	Splay *time.Duration `mapstructure:"splay"`
	// MaxPathLength bounds the name of a file in an archive, in bytes.
	MaxPathLength *int `mapstructure:"max_path_length"`
	// MaxRedirects bounds the HTTP redirects one download follows.
	MaxRedirects *int `mapstructure:"max_redirects"`
	// MaxMatcherLength bounds a matcher expression, in characters.
	MaxMatcherLength *int `mapstructure:"max_matcher_length"`
	// MaxMatcherNodes bounds a matcher expression, in syntax nodes.
	MaxMatcherNodes *int `mapstructure:"max_matcher_nodes"`
	// MaxMatcherSteps bounds the loop iterations and calls of one matcher evaluation.
	MaxMatcherSteps *int `mapstructure:"max_matcher_steps"`
	// MaxMatcherBytes bounds the bytes one matcher evaluation builds or reads from the facts.
	MaxMatcherBytes *int `mapstructure:"max_matcher_bytes"`
	// MaxMatcherTime bounds one matcher evaluation.
	MaxMatcherTime *time.Duration `mapstructure:"max_matcher_time"`
}

// Settings are validated properties with every default filled in.
type Settings struct {
	DataItem           string
	Bucket             string
	Key                string
	PurgeUnknown       bool
	PublicKeys         []string
	MachinesDirectory  string
	FullVerifyInterval time.Duration
	MaxDownloadBytes   int64
	MaxUnpackedBytes   int64
	MaxFiles           int
	DownloadTimeout    time.Duration
	GovernorTimeout    time.Duration
	AllowSchemes       []string
	Splay              time.Duration
	MaxPathLength      int
	MaxRedirects       int
	Matcher            match.Limits
	// Legacy lists go-choria v0.29.4 properties that were given and are ignored.
	Legacy []string
}

// ParseProperties decodes and validates a watcher's properties. machineDir is the watcher's
// own machine directory, whose parent is the default machines directory.
func ParseProperties(raw map[string]any, machineDir string) (*Settings, error) {
	var legacy []string
	props := map[string]any{}
	for k, v := range raw {
		if slices.Contains(legacyProperties, k) {
			legacy = append(legacy, k)
			continue
		}
		props[k] = v
	}
	slices.Sort(legacy)

	var p Properties
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(mapstructure.StringToTimeDurationHookFunc(), util.StringSliceHookFunc),
		Result:           &p,
		WeaklyTypedInput: true,
		ErrorUnused:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	if err := dec.Decode(props); err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}

	s := &Settings{
		DataItem:          strings.TrimSpace(p.DataItem),
		Bucket:            strings.TrimSpace(p.Bucket),
		Key:               strings.TrimSpace(p.Key),
		PurgeUnknown:      p.PurgeUnknown,
		MachinesDirectory: p.MachinesDirectory,
		MaxDownloadBytes:  DefaultMaxDownloadBytes,
		MaxUnpackedBytes:  DefaultMaxUnpackedBytes,
		MaxFiles:          DefaultMaxFiles,
		DownloadTimeout:   DefaultDownloadTimeout,
		GovernorTimeout:   DefaultGovernorTimeout,
		AllowSchemes:      slices.Clone(DefaultAllowSchemes),
		Splay:             DefaultSplay,
		MaxPathLength:     archive.DefaultMaxPathLength,
		MaxRedirects:      fetch.DefaultMaxRedirects,
		Matcher: match.Limits{MaxLength: match.DefaultMaxLength, MaxNodes: match.DefaultMaxNodes,
			MaxSteps: match.DefaultMaxSteps, MaxBytes: match.DefaultMaxBytes, MaxTime: match.DefaultMaxTime},
		Legacy: legacy,
	}

	switch {
	case s.DataItem != "" && (s.Bucket != "" || s.Key != ""):
		return nil, fmt.Errorf("properties: data_item and bucket/key are exclusive: give data_item, or bucket and key")
	case s.DataItem == "" && s.Bucket == "" && s.Key == "":
		return nil, fmt.Errorf("properties: the specification source is required: give data_item, or bucket and key")
	case s.DataItem == "" && (s.Bucket == "" || s.Key == ""):
		return nil, fmt.Errorf("properties: bucket and key go together: bucket %q, key %q", s.Bucket, s.Key)
	}

	for _, k := range p.PublicKey {
		s.PublicKeys = append(s.PublicKeys, splitKeys(k)...)
	}

	if s.MachinesDirectory == "" {
		if machineDir == "" {
			return nil, fmt.Errorf("properties: machines_directory is required: this machine has no directory to take its parent from")
		}
		s.MachinesDirectory = filepath.Dir(machineDir)
	}
	if !filepath.IsAbs(s.MachinesDirectory) {
		return nil, fmt.Errorf("properties: machines_directory %q must be an absolute path", s.MachinesDirectory)
	}
	s.MachinesDirectory = filepath.Clean(s.MachinesDirectory)

	if p.FullVerifyInterval != nil {
		if *p.FullVerifyInterval < MinInterval {
			return nil, fmt.Errorf("properties: full_verify_interval %v is below the minimum of %v", *p.FullVerifyInterval, MinInterval)
		}
		s.FullVerifyInterval = *p.FullVerifyInterval
	}
	if err := positive("max_download_bytes", p.MaxDownloadBytes, &s.MaxDownloadBytes); err != nil {
		return nil, err
	}
	if err := positive("max_unpacked_bytes", p.MaxUnpackedBytes, &s.MaxUnpackedBytes); err != nil {
		return nil, err
	}
	if err := positive("max_files", p.MaxFiles, &s.MaxFiles); err != nil {
		return nil, err
	}
	if err := positive("download_timeout", p.DownloadTimeout, &s.DownloadTimeout); err != nil {
		return nil, err
	}
	if err := positive("governor_timeout", p.GovernorTimeout, &s.GovernorTimeout); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name       string
		given, dst *int
	}{
		{"max_path_length", p.MaxPathLength, &s.MaxPathLength},
		{match.LimitLength, p.MaxMatcherLength, &s.Matcher.MaxLength},
		{match.LimitNodes, p.MaxMatcherNodes, &s.Matcher.MaxNodes},
		{match.LimitSteps, p.MaxMatcherSteps, &s.Matcher.MaxSteps},
		{match.LimitBytes, p.MaxMatcherBytes, &s.Matcher.MaxBytes},
	} {
		if err := positive(l.name, l.given, l.dst); err != nil {
			return nil, err
		}
	}
	if err := positive(match.LimitTime, p.MaxMatcherTime, &s.Matcher.MaxTime); err != nil {
		return nil, err
	}
	if p.MaxRedirects != nil { // 0 follows no redirect, which is a limit too
		if *p.MaxRedirects < 0 {
			return nil, fmt.Errorf("properties: max_redirects must not be negative, got %d", *p.MaxRedirects)
		}
		s.MaxRedirects = *p.MaxRedirects
	}

	if p.Splay != nil {
		if *p.Splay < 0 || *p.Splay > MaxSplay {
			return nil, fmt.Errorf("properties: splay %v must be between 0 and %v", *p.Splay, MaxSplay)
		}
		s.Splay = *p.Splay
	}

	if p.AllowSchemes != nil {
		if len(p.AllowSchemes) == 0 {
			return nil, fmt.Errorf("properties: allow_schemes must list at least one of %s", strings.Join(DefaultAllowSchemes, ", "))
		}
		s.AllowSchemes = nil
		for _, scheme := range p.AllowSchemes {
			scheme = strings.ToLower(strings.TrimSpace(scheme))
			if !slices.Contains(DefaultAllowSchemes, scheme) {
				return nil, fmt.Errorf("properties: allow_schemes: scheme %q is not supported, use %s", scheme, strings.Join(DefaultAllowSchemes, " or "))
			}
			if !slices.Contains(s.AllowSchemes, scheme) {
				s.AllowSchemes = append(s.AllowSchemes, scheme)
			}
		}
	}

	return s, nil
}

// positive copies a given limit into dst after checking it is above zero: zero never means
// unlimited, and a limit left out keeps its default.
func positive[T int | int64 | time.Duration](name string, given *T, dst *T) error {
	if given == nil {
		return nil
	}
	if *given <= 0 {
		return fmt.Errorf("properties: %s must be above zero, got %v (leave it out for the default of %v)", name, *given, *dst)
	}
	*dst = *given
	return nil
}

// ParseInterval reads the watcher's standard interval argument: empty means DefaultInterval,
// and anything below MinInterval is refused.
func ParseInterval(interval string) (time.Duration, error) {
	interval = strings.TrimSpace(interval)
	if interval == "" {
		return DefaultInterval, nil
	}
	d, err := time.ParseDuration(interval)
	if err != nil {
		return 0, fmt.Errorf("interval %q: %w", interval, err)
	}
	if d < MinInterval {
		return 0, fmt.Errorf("interval %v is below the minimum of %v", d, MinInterval)
	}
	return d, nil
}
