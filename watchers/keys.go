package watchers

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/mms-io/mms/machines/spec"
)

// PublicKey holds trusted ed25519 public keys compiled into the binary, 64 hex characters
// each, separated by commas when there are several (during a key rotation):
//
//	go build -ldflags "-X github.com/mms-io/mms/watchers.PublicKey=<hex>[,<hex>]" ./cmd/choria
var PublicKey string

// KeySource names where the trusted keys came from.
type KeySource string

const (
	// KeySourceChoria is the Choria setting plugin.choria.machine.signing_key.
	KeySourceChoria KeySource = "plugin.choria.machine.signing_key"
	// KeySourceCompiled is the PublicKey variable set at build time.
	KeySourceCompiled KeySource = "compiled in"
	// KeySourceProperty is the watcher's public_key property.
	KeySourceProperty KeySource = "public_key property"
	// KeySourceNone means no key is configured: unsigned specifications are accepted.
	KeySourceNone KeySource = "none"
)

// TrustedKeys decides which ed25519 public keys this watcher trusts.
//
// Keys combine by source, not by union. The sources, strongest first, are the Choria setting
// plugin.choria.machine.signing_key (signer), the compiled-in PublicKey (compiled), and the
// public_key property (property). The strongest source that holds at least one key supplies
// every trusted key, and the weaker ones are ignored: a machine.yaml cannot add a key next to
// the one the operator set in Choria's configuration or compiled in. Any one source may hold
// several keys (comma or space separated), so that a rotation trusts old and new keys at once.
//
// Every source given is validated, used or not, so that a typo is reported rather than found
// on the day a stronger source is removed. A malformed key is an error that names its source
// and position; it never reaches ed25519.Verify.
func TrustedKeys(signer, compiled string, property []string) ([]ed25519.PublicKey, KeySource, error) {
	sources := []struct {
		source KeySource
		keys   []string
	}{
		{KeySourceChoria, splitKeys(signer)},
		{KeySourceCompiled, splitKeys(compiled)},
		{KeySourceProperty, property},
	}

	var chosen []ed25519.PublicKey
	source := KeySourceNone
	for _, s := range sources {
		keys, err := spec.ParsePublicKeys(s.keys)
		if err != nil {
			return nil, KeySourceNone, fmt.Errorf("trusted keys from %s: %w", s.source, err)
		}
		if len(keys) > 0 && chosen == nil {
			chosen, source = keys, s.source
		}
	}
	return chosen, source, nil
}

// splitKeys splits a list of hex keys separated by commas or white space.
func splitKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
