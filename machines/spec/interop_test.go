package spec

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/errs"
)

// These vectors were made by go-choria v0.29.4's own `mms` (see testdata/VECTORS.md).

func TestPackV1IsByteForByteGoChoria(t *testing.T) {
	_, gcPriv := gcKeys(t)
	for _, tc := range []struct{ machines, key, want string }{
		{"reference-machines.json", referencePriv, "reference-spec.json"},
		{"multi-machines.json", gcPriv, "multi-spec.json"},
		{"multi-machines.json", "", "multi-unsigned.json"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var key ed25519.PrivateKey
			if tc.key != "" {
				var err error
				if key, err = ParsePrivateKey(tc.key); err != nil {
					t.Fatal(err)
				}
			}
			env, _, err := Pack(readTestdata(t, tc.machines), PackOptions{Format: 1, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.TrimSuffix(readTestdata(t, tc.want), []byte("\n"))
			if !bytes.Equal(env, want) {
				t.Fatalf("packed\n%s\nwant\n%s", env, want)
			}
		})
	}
}

func TestOpensGoChoriaSpecs(t *testing.T) {
	gcPub, _ := gcKeys(t)
	t.Run("the documented example packs, verifies and decodes", func(t *testing.T) {
		pub, _ := ParsePublicKey(referencePub)
		s, err := Open(readTestdata(t, "reference-spec.json"), Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil {
			t.Fatal(err)
		}
		e := s.Entries[0]
		if s.Format != 1 || e.Name != "facts" || e.Verify != SumsFile || e.Match != "has_command('facter')" {
			t.Fatalf("decoded %+v", s)
		}
	})
	t.Run("a multi-entry spec signed by go-choria verifies with its key only", func(t *testing.T) {
		pub, _ := ParsePublicKey(gcPub)
		s, err := Open(readTestdata(t, "multi-spec.json"), Trust{Keys: []ed25519.PublicKey{pub}})
		if err != nil || len(s.Entries) != 2 || s.Entries[1].Password != "s3cret" || s.Entries[1].Governor != "FACTS" {
			t.Fatalf("got %+v %v", s, err)
		}
		other, _ := ParsePublicKey(referencePub)
		if _, err := Open(readTestdata(t, "multi-spec.json"), Trust{Keys: []ed25519.PublicKey{other}}); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("verified with the wrong key: %v", err)
		}
	})
	t.Run("an unsigned go-choria spec is refused once a key is configured", func(t *testing.T) {
		pub, _ := ParsePublicKey(gcPub)
		if _, err := Open(readTestdata(t, "multi-unsigned.json"), Trust{Keys: []ed25519.PublicKey{pub}}); !errors.Is(err, errs.ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPackV2(t *testing.T) {
	pub, priv := newKey(t)
	issued := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	machines := readTestdata(t, "multi-machines.json")
	env, s, err := Pack(machines, PackOptions{Format: 2, Version: 1763892000123, Issued: issued, Expires: issued.Add(24 * time.Hour), Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := Open(env, Trust{Keys: []ed25519.PublicKey{pub}})
	if err != nil {
		t.Fatal(err)
	}
	if opened.Format != 2 || opened.Version != 1763892000123 || !opened.Issued.Equal(issued) || !opened.Expires.Equal(issued.Add(24*time.Hour)) {
		t.Fatalf("opened %+v", opened)
	}
	if opened.Digest != s.Digest || len(opened.Entries) != 2 {
		t.Fatalf("digest or entries differ: %+v", opened)
	}
	t.Run("refuses unknown fields unless allowed", func(t *testing.T) {
		typo := mustJSON(t, []any{map[string]any{"name": "web", "source": "https://x/y.tgz", "checksum": sumA, "verify_checksum": sumB, "cheksum": sumA}})
		_, _, err := Pack(typo, PackOptions{Format: 2, Version: 1, Issued: issued})
		if !errors.Is(err, errs.ErrInvalidSpec) || !bytes.Contains([]byte(err.Error()), []byte(`entry "web": field cheksum is not known`)) {
			t.Fatalf("got %v", err)
		}
		env, s, err := Pack(typo, PackOptions{Format: 2, Version: 1, Issued: issued, AllowUnknown: true})
		if err != nil || len(s.Unknown) != 1 {
			t.Fatalf("got %v", err)
		}
		reopened, err := Open(env, Trust{InsecureAllowUnsigned: true})
		if err != nil || len(reopened.Unknown) != 1 {
			t.Fatalf("the unknown field did not travel: %v", err)
		}
	})
	t.Run("refuses a machines file that is not an array", func(t *testing.T) {
		if _, _, err := Pack([]byte(`{"name":"web"}`), PackOptions{Format: 1}); !errors.Is(err, errs.ErrInvalidSpec) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("defaults versions to milliseconds so two packs in one second differ", func(t *testing.T) {
		a := VersionAt(issued)
		b := VersionAt(issued.Add(time.Millisecond))
		if b <= a || a != issued.UnixMilli() {
			t.Fatalf("VersionAt: %d then %d", a, b)
		}
	})
}
