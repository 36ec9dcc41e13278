package testarchive

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/spec"
)

// Envelope packs entries as a v2 specification of the given version and issue time, signed
// with key (nil packs it unsigned), failing the test if it cannot.
func Envelope(t testing.TB, key ed25519.PrivateKey, version int64, issued time.Time, entries ...spec.Entry) []byte {
	t.Helper()
	if entries == nil {
		entries = []spec.Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: version, Issued: issued, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return env
}
