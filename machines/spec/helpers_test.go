package spec

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	sumA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sumB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// goodEntry returns a valid entry as a JSON-ready map, to be broken by one test each.
func goodEntry(name string) map[string]any {
	return map[string]any{
		"name":            name,
		"source":          "https://archives.example.net/" + name + ".tgz",
		"checksum":        sumA,
		"verify_checksum": sumB,
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gcKeys returns the key pair go-choria's `mms keys` printed into testdata/gc-keys.txt.
func gcKeys(t testing.TB) (pub, priv string) {
	t.Helper()
	for _, line := range strings.Split(string(readTestdata(t, "gc-keys.txt")), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "Public" {
			pub = f[2]
		}
		if len(f) == 3 && f[0] == "Private" {
			priv = f[2]
		}
	}
	if pub == "" || priv == "" {
		t.Fatal("testdata/gc-keys.txt has no key pair")
	}
	return pub, priv
}

const referencePub = "64031219d4922eed63a5f567303e98607c632139c01bc9fa4ca2514c2d9d30da"
const referencePriv = "d8bd4d6392af154e996a18a4ccd5f51931d8e861d42966a677d85fbb598b66d364031219d4922eed63a5f567303e98607c632139c01bc9fa4ca2514c2d9d30da"
