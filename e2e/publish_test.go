package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signer is an operator's ed25519 key pair made with mms keys.
type signer struct {
	keyFile string
	public  string
}

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), name)
	mms(t, nil, "keys", "--out", prefix)
	pub, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return signer{keyFile: prefix + ".key", public: strings.TrimSpace(string(pub))}
}

// pack writes entries to a machines file and returns the envelope mms pack prints, signed by
// s, with the given v2 version.
func pack(t *testing.T, s signer, version int64, entries ...entry) []byte {
	t.Helper()
	if entries == nil {
		entries = []entry{}
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "machines.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return []byte(strings.TrimSpace(mms(t, nil, "pack", file, s.keyFile, "--version", strconv.FormatInt(version, 10))))
}

// put publishes envelope with choria kv put, the operator's path, and returns when the
// command started and when it returned. The value goes as an argument: go-choria v0.29.4's
// `choria kv put BUCKET KEY -` stores an empty value instead of reading standard input.
func (c *cluster) put(envelope []byte) (started, done time.Time) {
	c.t.Helper()
	started = time.Now()
	c.mustChoria(nil, "kv", "put", "MACHINES", "machines", string(envelope))
	return started, time.Now()
}

// putRetrying is put that retries while the broker is still coming up.
func (c *cluster) putRetrying(envelope []byte, timeout time.Duration) (started, done time.Time) {
	c.t.Helper()
	var lastErr error
	waitFor(c.t, timeout, "choria kv put to succeed", func() (bool, string) {
		started = time.Now()
		_, lastErr = c.choria(nil, "kv", "put", "MACHINES", "machines", string(envelope))
		if lastErr != nil {
			return false, lastErr.Error()
		}
		return true, ""
	})
	return started, time.Now()
}
