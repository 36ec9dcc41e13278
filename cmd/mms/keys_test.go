package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keysDocV1 is the mms.keys.v1 schema, as docs/json.md lists it.
type keysDocV1 struct {
	Schema         string `json:"schema"`
	PublicKey      string `json:"public_key"`
	PrivateKey     string `json:"private_key"`
	PrivateKeyFile string `json:"private_key_file"`
	PublicKeyFile  string `json:"public_key_file"`
}

// publicHalf returns the hex public key of the hex ed25519 private key priv.
func publicHalf(t *testing.T, priv string) string {
	t.Helper()
	b, err := hex.DecodeString(priv)
	if err != nil || len(b) != ed25519.PrivateKeySize {
		t.Fatalf("private key %q: %d bytes, %v", priv, len(b), err)
	}
	return hex.EncodeToString(ed25519.PrivateKey(b).Public().(ed25519.PublicKey))
}

func TestKeysJSON(t *testing.T) {
	t.Run("prints mms.keys.v1 with both keys of one pair", func(t *testing.T) {
		r := mms(t, t.TempDir(), "keys", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var doc keysDocV1
		decodeStrict(t, r.stdout, &doc)
		if doc.Schema != "mms.keys.v1" || len(doc.PublicKey) != 2*ed25519.PublicKeySize || doc.PrivateKeyFile != "" || doc.PublicKeyFile != "" {
			t.Fatalf("printed %+v", doc)
		}
		if got := publicHalf(t, doc.PrivateKey); got != doc.PublicKey {
			t.Fatalf("public_key %s is not the private key's, %s", doc.PublicKey, got)
		}
	})

	t.Run("with --out prints the files written and the public key, never the private key", func(t *testing.T) {
		dir := t.TempDir()
		r := mms(t, dir, "keys", "--out", "signer", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var doc keysDocV1
		decodeStrict(t, r.stdout, &doc)
		if doc.Schema != "mms.keys.v1" || doc.PrivateKey != "" || doc.PrivateKeyFile != "signer.key" || doc.PublicKeyFile != "signer.pub" {
			t.Fatalf("printed %+v", doc)
		}
		priv, err := os.ReadFile(filepath.Join(dir, doc.PrivateKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(filepath.Join(dir, doc.PublicKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(pub)) != doc.PublicKey || publicHalf(t, strings.TrimSpace(string(priv))) != doc.PublicKey {
			t.Fatalf("public_key %s; signer.pub holds %q", doc.PublicKey, pub)
		}
		if strings.Contains(r.stdout, strings.TrimSpace(string(priv))) || !strings.Contains(r.stderr, "Wrote signer.key") {
			t.Fatalf("stdout %q, stderr %q", r.stdout, r.stderr)
		}
	})
}
