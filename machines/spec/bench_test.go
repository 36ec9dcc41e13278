package spec

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// BenchmarkOpen1000 decodes, verifies and validates a signed 1,000-entry v2 specification.
func BenchmarkOpen1000(b *testing.B) {
	pub, priv := newKey(b)
	entries := make([]map[string]any, 1000)
	for i := range entries {
		e := goodEntry(fmt.Sprintf("machine-%04d", i))
		e["match"] = fmt.Sprintf("identity('^web%d') && has_file('/etc/role-%d')", i%50, i)
		entries[i] = e
	}
	env, _, err := Pack(mustJSON(b, entries), PackOptions{Format: 2, Version: 1, Issued: time.Now(), Key: priv})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}}); err != nil {
			b.Fatal(err)
		}
	}
}
