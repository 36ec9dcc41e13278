package watchers

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/choria-io/go-choria/aagent/util"
	"github.com/mitchellh/mapstructure"
	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/keyring"
	"github.com/mms-io/mms/machines/spec"

	"github.com/mms-io/mms/nodeloop"
)

// Watcher-only defaults; the node's settings (limits, splay, purge, ...) take nodeloop's.
const (
	// MinInterval is the shortest interval a watcher accepts, as every Choria watcher (go-choria
	// v0.29.4 and v0.30): the node loop itself accepts shorter ones, for mms agent's tests.
	MinInterval = 2 * time.Second
	// DefaultGovernorTimeout bounds waiting for a slot in an entry's governor (governor_timeout).
	DefaultGovernorTimeout = 5 * time.Minute
)

// legacyProperties are go-choria v0.29.4 machines watcher properties that mean nothing here;
// they are accepted, with a warning, so that existing machine.yaml files keep loading.
var legacyProperties = []string{"machine_manage_interval"}

// Properties are the watcher's own properties from machine.yaml, decoded with snake_case
// names. The node's settings (nodeloop.Table: limits, splay, purge_unknown, ...) are
// properties too, under their table names.
type Properties struct {
	// DataItem names the machine data item that holds the specification envelope, as filled
	// by a `kv` watcher. Exclusive with Bucket and Key.
	DataItem string `mapstructure:"data_item"`
	// Bucket is the NATS KV bucket to watch. Needs Key; exclusive with DataItem.
	Bucket string `mapstructure:"bucket"`
	// Key is the key in Bucket that holds the specification envelope.
	Key string `mapstructure:"key"`
	// PublicKey holds trusted ed25519 public keys, 64 hex characters each: one string or a list.
	PublicKey []string `mapstructure:"public_key"`
	// KeyringRoots are the root keys of a keyring the watcher trusts (package keyring), 64 hex
	// characters each: one string or a list. The keyring is read beside Key in Bucket.
	KeyringRoots []string `mapstructure:"keyring_roots"`
	// KeyringThreshold is how many of KeyringRoots must sign the first keyring the node takes;
	// it may be left out with one root.
	KeyringThreshold int `mapstructure:"keyring_threshold"`
	// MachinesDirectory is where machines are installed; by default the parent of this
	// machine's own directory (the Choria machines directory).
	MachinesDirectory string `mapstructure:"machines_directory"`
	// GovernorTimeout bounds waiting for a slot in an entry's governor.
	GovernorTimeout *time.Duration `mapstructure:"governor_timeout"`
	// StatusBucket is the KV bucket this node reports its fleet status to; "" reports none.
	StatusBucket *string `mapstructure:"status_bucket"`
	// StatusHeartbeat is how often the node reports its status when nothing changed.
	StatusHeartbeat *time.Duration `mapstructure:"status_heartbeat"`
}

// Settings are validated properties with every default filled in.
type Settings struct {
	DataItem   string
	Bucket     string
	Key        string
	PublicKeys []string
	// Keyring is the anchor of the keyring the watcher trusts; zero when none.
	Keyring           keyring.Anchor
	MachinesDirectory string
	GovernorTimeout   time.Duration
	// StatusBucket and StatusHeartbeat say where and how often the node reports its fleet
	// status (package fleet); an empty bucket reports none.
	StatusBucket    string
	StatusHeartbeat time.Duration
	// Node are the node's settings, from the properties named in nodeloop.Table.
	Node nodeloop.Settings
	// Legacy lists go-choria v0.29.4 properties that were given and are ignored.
	Legacy []string
}

// ParseProperties decodes and validates a watcher's properties. machineDir is the watcher's
// own machine directory, whose parent is the default machines directory.
func ParseProperties(raw map[string]any, machineDir string) (*Settings, error) {
	s := &Settings{Node: nodeloop.DefaultSettings(), GovernorTimeout: DefaultGovernorTimeout,
		StatusBucket: fleet.DefaultBucket, StatusHeartbeat: fleet.DefaultHeartbeat}
	own := map[string]any{}
	for k, v := range raw {
		st, isSetting := nodeloop.Lookup(k)
		switch {
		case slices.Contains(legacyProperties, k):
			s.Legacy = append(s.Legacy, k)
		case isSetting && st.Name == k && k != "interval":
			text, err := propertyText(v)
			if err != nil {
				return nil, fmt.Errorf("properties: %s: %w", k, err)
			}
			if err := st.Set(&s.Node, text); err != nil {
				return nil, fmt.Errorf("properties: %w", err)
			}
		default:
			own[k] = v
		}
	}
	slices.Sort(s.Legacy)

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
	if err := dec.Decode(own); err != nil {
		return nil, fmt.Errorf("properties: %w (the interval is the watcher's own interval:, not a property)", err)
	}

	s.DataItem, s.Bucket, s.Key = strings.TrimSpace(p.DataItem), strings.TrimSpace(p.Bucket), strings.TrimSpace(p.Key)
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

	if s.Keyring, err = keyringAnchor(p, s); err != nil {
		return nil, err
	}

	s.MachinesDirectory = p.MachinesDirectory
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

	if p.GovernorTimeout != nil {
		if *p.GovernorTimeout <= 0 {
			return nil, fmt.Errorf("properties: governor_timeout must be above zero, got %v (leave it out for the default of %v)", *p.GovernorTimeout, DefaultGovernorTimeout)
		}
		s.GovernorTimeout = *p.GovernorTimeout
	}
	if p.StatusBucket != nil {
		s.StatusBucket = strings.TrimSpace(*p.StatusBucket)
		if s.StatusBucket != "" {
			if err := kvspec.CheckBucket(s.StatusBucket); err != nil {
				return nil, fmt.Errorf("properties: status_bucket: %w", err)
			}
		}
	}
	if p.StatusHeartbeat != nil {
		if *p.StatusHeartbeat < time.Second {
			return nil, fmt.Errorf("properties: status_heartbeat must be at least 1s, got %v (leave it out for the default of %v)", *p.StatusHeartbeat, fleet.DefaultHeartbeat)
		}
		s.StatusHeartbeat = *p.StatusHeartbeat
	}
	return s, nil
}

// keyringAnchor checks the keyring properties: roots and threshold as a keyring's own are
// checked, and the specification read from a bucket and key, beside which the keyring is.
func keyringAnchor(p Properties, s *Settings) (keyring.Anchor, error) {
	var roots []string
	for _, k := range p.KeyringRoots {
		roots = append(roots, splitKeys(k)...)
	}
	switch {
	case len(roots) == 0 && p.KeyringThreshold != 0:
		return keyring.Anchor{}, fmt.Errorf("properties: keyring_threshold needs keyring_roots, the root keys it counts")
	case len(roots) == 0:
		return keyring.Anchor{}, nil
	case s.Bucket == "":
		return keyring.Anchor{}, fmt.Errorf("properties: keyring_roots needs bucket and key: the keyring is read beside the specification's key, at KEY.keyring.N")
	}
	keys, err := spec.ParsePublicKeys(roots)
	if err != nil {
		return keyring.Anchor{}, fmt.Errorf("properties: keyring_roots: %w", err)
	}
	a, err := keyring.NewAnchor(keys, p.KeyringThreshold)
	if err != nil {
		return keyring.Anchor{}, fmt.Errorf("properties: keyring_roots and keyring_threshold: %w", err)
	}
	return a, nil
}

// propertyText turns a property's YAML value into the text a setting parses: YAML gives
// strings, booleans, integers (floats from JSON) and lists.
func propertyText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if x != float64(int64(x)) {
			return "", fmt.Errorf("%v is not a whole number", x)
		}
		return strconv.FormatInt(int64(x), 10), nil
	case []any:
		var parts []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("list item %v is not a string", e)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case []string:
		return strings.Join(x, ","), nil
	}
	return "", fmt.Errorf("a %T is not a value this property takes", v)
}

// ParseInterval reads the watcher's standard interval argument: empty means the node loop's
// DefaultInterval, and anything below MinInterval is refused.
func ParseInterval(interval string) (time.Duration, error) {
	interval = strings.TrimSpace(interval)
	if interval == "" {
		return nodeloop.DefaultInterval, nil
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
