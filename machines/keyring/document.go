package keyring

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/machines/spec"
)

// Bounds of a keyring, far above what a fleet needs and far below what would cost a node.
const (
	// MaxDocumentBytes bounds a keyring document.
	MaxDocumentBytes = 256 << 10
	// MaxRoots bounds its root keys.
	MaxRoots = 16
	// MaxSigners bounds its signers.
	MaxSigners = 128
	// MaxPatterns bounds one signer's machine-name patterns.
	MaxPatterns = 64
)

// Keyring is one version of the keyring, as its payload says.
type Keyring struct {
	// Version only grows, by one at each change.
	Version int64
	// Issued and Expires bound when it is valid; an expired keyring is refused.
	Issued, Expires time.Time
	// Roots are the offline root keys; RootThreshold of them must sign the keyring (and the
	// next one).
	Roots         []ed25519.PublicKey
	RootThreshold int
	// Signers are the online signers of specifications.
	Signers []spec.Signer
	// SpecThreshold is how many distinct signers a specification needs (1 unless said).
	SpecThreshold int

	// Payload is the exact payload bytes the roots sign, and Signatures their signatures.
	Payload    []byte
	Signatures []spec.NamedSignature
	// Digest is the hex sha256 of Payload.
	Digest string
}

// signerName is what a signer may be called: it shows in reports and notifications.
var signerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// Parse decodes a keyring document and checks its structure strictly (every field known and
// given once, thresholds between 1 and the number of keys, no key twice, valid patterns),
// without judging who signed it: see Anchor.Vouches and Follows.
func Parse(doc []byte) (*Keyring, error) {
	if len(doc) > MaxDocumentBytes {
		return nil, &errs.LimitError{Name: "max_keyring_bytes", Limit: MaxDocumentBytes, Unit: "bytes", What: "keyring"}
	}
	if err := jsondepth.Check(doc, jsondepth.Max); err != nil {
		return nil, fmt.Errorf("%w: keyring document: %v", errs.ErrKeyring, err)
	}
	if !gjson.ValidBytes(doc) {
		return nil, fmt.Errorf("%w: keyring document is not valid JSON", errs.ErrKeyring)
	}
	f, err := fields(gjson.ParseBytes(doc), "keyring document", "keyring", "signatures")
	if err != nil {
		return nil, err
	}
	enc, ok := f["keyring"]
	if !ok || enc.Type != gjson.String {
		return nil, fmt.Errorf("%w: keyring document needs \"keyring\", the base64 of its payload", errs.ErrKeyring)
	}
	payload, err := base64.StdEncoding.DecodeString(enc.Str)
	if err != nil || len(payload) == 0 {
		return nil, fmt.Errorf("%w: keyring document: \"keyring\" is not the standard base64 of a payload", errs.ErrKeyring)
	}
	k, err := ParsePayload(payload)
	if err != nil {
		return nil, err
	}
	if sigs, ok := f["signatures"]; ok {
		if k.Signatures, err = spec.DecodeSignatures([]byte(sigs.Raw), "keyring"); err != nil {
			return nil, fmt.Errorf("%w: %w", errs.ErrKeyring, err)
		}
	}
	return k, nil
}

// ParsePayload decodes and checks a keyring payload (see Parse); the keyring has no
// signatures yet.
func ParsePayload(payload []byte) (*Keyring, error) {
	if err := jsondepth.Check(payload, jsondepth.Max); err != nil {
		return nil, fmt.Errorf("%w: keyring payload: %v", errs.ErrKeyring, err)
	}
	if !gjson.ValidBytes(payload) {
		return nil, fmt.Errorf("%w: keyring payload is not valid JSON", errs.ErrKeyring)
	}
	f, err := fields(gjson.ParseBytes(payload), "keyring", "version", "issued", "expires", "roots", "signers", "spec_threshold")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	k := &Keyring{Payload: payload, Digest: hex.EncodeToString(sum[:]), SpecThreshold: 1}
	if k.Version, err = positive(f, "version", true); err != nil {
		return nil, err
	}
	if k.Issued, err = when(f, "issued"); err != nil {
		return nil, err
	}
	if k.Expires, err = when(f, "expires"); err != nil {
		return nil, err
	}
	if !k.Expires.After(k.Issued) {
		return nil, fmt.Errorf("%w: keyring version %d expires (%s) before it is issued (%s)", errs.ErrKeyring, k.Version, stamp(k.Expires), stamp(k.Issued))
	}
	if err := k.parseRoots(f["roots"]); err != nil {
		return nil, err
	}
	if err := k.parseSigners(f["signers"]); err != nil {
		return nil, err
	}
	if st, ok := f["spec_threshold"]; ok {
		n, err := positive(map[string]gjson.Result{"spec_threshold": st}, "spec_threshold", true)
		if err != nil {
			return nil, fmt.Errorf("%w (a threshold of 0 would let an unsigned specification through)", err)
		}
		k.SpecThreshold = int(n)
	}
	if k.SpecThreshold > max(1, len(k.Signers)) {
		return nil, fmt.Errorf("%w: keyring version %d: spec_threshold %d is more than its %d signer(s): no specification could be signed", errs.ErrKeyring, k.Version, k.SpecThreshold, len(k.Signers))
	}
	return k, nil
}

// parseRoots reads {"keys": [hex…], "threshold": k}.
func (k *Keyring) parseRoots(v gjson.Result) error {
	if !v.Exists() {
		return fmt.Errorf("%w: keyring needs \"roots\": {\"keys\": [...], \"threshold\": k}", errs.ErrKeyring)
	}
	f, err := fields(v, "keyring roots", "keys", "threshold")
	if err != nil {
		return err
	}
	keys := f["keys"]
	if !keys.IsArray() || len(keys.Array()) == 0 {
		return fmt.Errorf("%w: keyring roots need a non-empty list \"keys\"", errs.ErrKeyring)
	}
	if n := len(keys.Array()); n > MaxRoots {
		return fmt.Errorf("%w: keyring has %d root keys, at most %d", errs.ErrKeyring, n, MaxRoots)
	}
	seen := map[string]bool{}
	for i, item := range keys.Array() {
		pub, err := key(item, fmt.Sprintf("root key %d", i+1))
		if err != nil {
			return err
		}
		if seen[string(pub)] {
			return fmt.Errorf("%w: root key %s is listed twice: a key counts once toward the threshold", errs.ErrKeyring, hex.EncodeToString(pub))
		}
		seen[string(pub)] = true
		k.Roots = append(k.Roots, pub)
	}
	t, err := threshold(f, len(k.Roots))
	if err != nil {
		return err
	}
	k.RootThreshold = t
	return nil
}

// threshold reads the "threshold" of f, which must be between 1 and n.
func threshold(f map[string]gjson.Result, n int) (int, error) {
	t, ok := f["threshold"]
	if !ok || t.Type != gjson.Number || t.Num != float64(int64(t.Num)) {
		return 0, fmt.Errorf("%w: keyring roots need an integer \"threshold\"", errs.ErrKeyring)
	}
	if t.Num < 1 || int(t.Num) > n {
		return 0, fmt.Errorf("%w: root threshold %s must be between 1 and the %d root key(s) (a threshold of 0 disables verification, as CVE-2026-23992 did in go-tuf)", errs.ErrKeyring, t.Raw, n)
	}
	return int(t.Num), nil
}

// parseSigners reads the signers list.
func (k *Keyring) parseSigners(v gjson.Result) error {
	if !v.Exists() {
		return nil
	}
	if !v.IsArray() {
		return fmt.Errorf("%w: keyring \"signers\" must be a list", errs.ErrKeyring)
	}
	items := v.Array()
	if len(items) > MaxSigners {
		return fmt.Errorf("%w: keyring has %d signers, at most %d", errs.ErrKeyring, len(items), MaxSigners)
	}
	names, keys := map[string]bool{}, map[string]string{}
	for _, r := range k.Roots {
		keys[string(r)] = "a root key"
	}
	for i, item := range items {
		s, err := parseSigner(item, i)
		if err != nil {
			return err
		}
		if names[s.Name] {
			return fmt.Errorf("%w: signer name %q is given twice", errs.ErrKeyring, s.Name)
		}
		if who, dup := keys[string(s.Key)]; dup {
			return fmt.Errorf("%w: signer %s has the key of %s: a key counts once, and root keys stay offline", errs.ErrKeyring, s.Name, who)
		}
		names[s.Name], keys[string(s.Key)] = true, "signer "+s.Name
		k.Signers = append(k.Signers, s)
	}
	return nil
}

// parseSigner reads one {"name", "key", "machines", "expires"}.
func parseSigner(item gjson.Result, i int) (spec.Signer, error) {
	what := fmt.Sprintf("signer %d", i+1)
	f, err := fields(item, what, "name", "key", "machines", "expires")
	if err != nil {
		return spec.Signer{}, err
	}
	var s spec.Signer
	if n := f["name"]; n.Type != gjson.String || !signerName.MatchString(n.Str) {
		return s, fmt.Errorf("%w: %s needs a \"name\" matching %s", errs.ErrKeyring, what, signerName)
	}
	s.Name = f["name"].Str
	what = "signer " + s.Name
	if s.Key, err = key(f["key"], what+" key"); err != nil {
		return s, err
	}
	if s.Expires, err = when(f, "expires"); err != nil {
		return s, fmt.Errorf("%w (of %s)", err, what)
	}
	m := f["machines"]
	if !m.IsArray() || len(m.Array()) == 0 {
		return s, fmt.Errorf("%w: %s needs \"machines\", a non-empty list of machine-name patterns (\"*\" for every machine)", errs.ErrKeyring, what)
	}
	if len(m.Array()) > MaxPatterns {
		return s, fmt.Errorf("%w: %s has %d patterns, at most %d", errs.ErrKeyring, what, len(m.Array()), MaxPatterns)
	}
	for _, p := range m.Array() {
		if err := checkPattern(p); err != nil {
			return s, fmt.Errorf("%w: %s: %v", errs.ErrKeyring, what, err)
		}
		s.Machines = append(s.Machines, p.Str)
	}
	return s, nil
}

// checkPattern refuses a pattern path.Match cannot read, and one that is empty or longer than
// a machine name may be.
func checkPattern(p gjson.Result) error {
	if p.Type != gjson.String || p.Str == "" || len(p.Str) > 128 {
		return fmt.Errorf("pattern %s must be a non-empty string of at most 128 characters", p.Raw)
	}
	if _, err := path.Match(p.Str, ""); err != nil {
		return fmt.Errorf("pattern %q: %v", p.Str, err)
	}
	return nil
}

// CheckPattern is checkPattern for a pattern given on the command line.
func CheckPattern(p string) error {
	raw, _ := json.Marshal(p)
	if err := checkPattern(gjson.ParseBytes(raw)); err != nil {
		return fmt.Errorf("%w: %v", errs.ErrKeyring, err)
	}
	return nil
}

// fields returns v's fields, refusing a non-object, a field given twice, one that only folds to
// a known name, and an unknown one: a keyring is read exactly, or not at all.
func fields(v gjson.Result, what string, known ...string) (map[string]gjson.Result, error) {
	if !v.IsObject() {
		return nil, fmt.Errorf("%w: %s must be a JSON object", errs.ErrKeyring, what)
	}
	out := map[string]gjson.Result{}
	var problem error
	v.ForEach(func(k, val gjson.Result) bool {
		switch {
		case !contains(known, k.Str):
			problem = fmt.Errorf("%w: %s has an unknown field %q (known: %v)", errs.ErrKeyring, what, k.Str, known)
		case out[k.Str].Exists():
			problem = fmt.Errorf("%w: %s gives %q twice", errs.ErrKeyring, what, k.Str)
		default:
			out[k.Str] = val
			return true
		}
		return false
	})
	return out, problem
}

// contains tells whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// key reads a hex public key, refusing what spec.ParsePublicKey refuses.
func key(v gjson.Result, what string) (ed25519.PublicKey, error) {
	if v.Type != gjson.String {
		return nil, fmt.Errorf("%w: %s must be a hex string", errs.ErrKeyring, what)
	}
	pub, err := spec.ParsePublicKey(v.Str)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errs.ErrKeyring, what, err)
	}
	return pub, nil
}

// positive reads the integer field name of f, which must be at least 1.
func positive(f map[string]gjson.Result, name string, required bool) (int64, error) {
	v, ok := f[name]
	if !ok && !required {
		return 0, nil
	}
	if !ok || v.Type != gjson.Number || v.Num < 1 || v.Num > 1<<53 || v.Num != float64(int64(v.Num)) {
		return 0, fmt.Errorf("%w: keyring %q must be an integer of at least 1", errs.ErrKeyring, name)
	}
	return int64(v.Num), nil
}

// when reads the required RFC3339 time field name of f.
func when(f map[string]gjson.Result, name string) (time.Time, error) {
	v, ok := f[name]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: keyring %q is required (an RFC3339 time)", errs.ErrKeyring, name)
	}
	t, err := time.Parse(time.RFC3339, v.Str)
	if v.Type != gjson.String || err != nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("%w: keyring %q must be an RFC3339 time, got %s", errs.ErrKeyring, name, v.Raw)
	}
	return t, nil
}

// stamp formats t for messages.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
