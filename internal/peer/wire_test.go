package peer

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/choria-io/go-choria/aagent/watchers/pluginswatcher"

	"github.com/mms-io/mms/machines/spec"
)

// TestPluginsEnvelopeOfV030 packs a specification with go-choria v0.30.2's own plugins
// Specification (what its `choria machine plugins pack` and built-in plugins manager use) and
// opens it with mms's spec package, as a node does.
func TestPluginsEnvelopeOfV030(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	entries := `[{"name":"web","source":"https://repo.example.net/web.tgz","checksum":"` + strings.Repeat("a", 64) +
		`","verify_checksum":"` + strings.Repeat("b", 64) + `","match":"get_fact('role') == 'web'"}]`
	s := &pluginswatcher.Specification{Plugins: base64.StdEncoding.EncodeToString([]byte(entries))}
	envelope, err := s.Encode(hex.EncodeToString(priv))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("is accepted under the key that signed it", func(t *testing.T) {
		got, err := spec.Open(envelope, spec.Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil {
			t.Fatalf("refused %s: %v", envelope, err)
		}
		if e, ok := got.Entry("web"); !ok || e.Match != "get_fact('role') == 'web'" {
			t.Fatalf("entries %+v", got)
		}
	})
	t.Run("is refused under another key", func(t *testing.T) {
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := spec.Open(envelope, spec.Trust{Keys: []ed25519.PublicKey{other}}); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("verifies with go-choria's own check", func(t *testing.T) {
		ok, err := s.VerifySignature(pub)
		if err != nil || !ok {
			t.Fatalf("go-choria's VerifySignature: %v %v", ok, err)
		}
	})
}
