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

// BenchmarkOpen1000Keyring is BenchmarkOpen1000 through a keyring: one signer of eight, or two
// named signatures where the keyring needs two, every entry within their patterns.
func BenchmarkOpen1000Keyring(b *testing.B) {
	entries := make([]map[string]any, 1000)
	for i := range entries {
		e := goodEntry(fmt.Sprintf("machine-%04d", i))
		e["match"] = fmt.Sprintf("identity('^web%d') && has_file('/etc/role-%d')", i%50, i)
		entries[i] = e
	}
	signers := &Signers{Keyring: 1, Required: 1}
	var privs []ed25519.PrivateKey
	for i := range 8 {
		pub, priv := newKey(b)
		privs = append(privs, priv)
		signers.List = append(signers.List, Signer{Name: fmt.Sprintf("team-%d", i), Key: pub, Machines: []string{"db-*", "machine-*"}, Expires: time.Now().Add(time.Hour)})
	}
	one, _, err := Pack(mustJSON(b, entries), PackOptions{Format: 2, Version: 1, Issued: time.Now(), Key: privs[7]})
	if err != nil {
		b.Fatal(err)
	}
	two, err := AddSignature(one, privs[3])
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		env      []byte
		required int
	}{{"one-signer", one, 1}, {"two-signers", two, 2}} {
		b.Run(c.name, func(b *testing.B) {
			ss := *signers
			ss.Required = c.required
			b.SetBytes(int64(len(c.env)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(c.env, Trust{Signers: &ss}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
