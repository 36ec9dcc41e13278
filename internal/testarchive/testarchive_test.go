package testarchive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
)

func TestServer(t *testing.T) {
	t.Run("serves what was put and counts requests per path", func(t *testing.T) {
		s := NewServer(t)
		url := s.Put("/a.tgz", []byte("body"))
		for range 2 {
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "body" {
				t.Fatalf("status %d body %q", resp.StatusCode, b)
			}
		}
		if s.Count("/a.tgz") != 2 || s.Total() != 2 {
			t.Fatalf("count %d total %d", s.Count("/a.tgz"), s.Total())
		}
	})

	t.Run("answers 404 for a path never put, and counts it", func(t *testing.T) {
		s := NewServer(t)
		resp, err := http.Get(s.URL + "/missing.tgz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || s.Count("/missing.tgz") != 1 {
			t.Fatalf("status %d count %d", resp.StatusCode, s.Count("/missing.tgz"))
		}
	})
}

func TestMachine(t *testing.T) {
	t.Run("returns the archive's checksum and a different archive for different files", func(t *testing.T) {
		a, res := Machine(t, "web", map[string]string{"v": "1"})
		sum := sha256.Sum256(a)
		if hex.EncodeToString(sum[:]) != res.Checksum || res.VerifyChecksum == "" {
			t.Fatalf("checksum %s for archive hashing to %x", res.Checksum, sum)
		}
		b, _ := Machine(t, "web", map[string]string{"v": "2"})
		if bytes.Equal(a, b) {
			t.Fatal("two different machines built the same archive")
		}
	})
}
