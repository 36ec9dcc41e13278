package watchers

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

func TestTrustedKeys(t *testing.T) {
	hexOf := func(keys [][]byte) string {
		var out []string
		for _, k := range keys {
			out = append(out, hex.EncodeToString(k))
		}
		return strings.Join(out, ",")
	}

	cases := []struct {
		name             string
		signer, compiled string
		property         []string
		wantKeys         string
		wantSource       KeySource
	}{
		{"trusts the Choria setting over a compiled-in key and the property", keyA, keyB, []string{keyB}, keyA, KeySourceChoria},
		{"trusts a compiled-in key over the property", "", keyA, []string{keyB}, keyA, KeySourceCompiled},
		{"trusts the property when nothing stronger is set", "", "", []string{keyB}, keyB, KeySourceProperty},
		{"trusts every key of the chosen source during a rotation", keyA + ", " + keyB, "", nil, keyA + "," + keyB, KeySourceChoria},
		{"trusts several compiled-in keys", "", keyA + "," + keyB, nil, keyA + "," + keyB, KeySourceCompiled},
		{"trusts nothing when no source holds a key", "", " ", nil, "", KeySourceNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, source, err := TrustedKeys(tc.signer, tc.compiled, tc.property)
			if err != nil {
				t.Fatal(err)
			}
			var raw [][]byte
			for _, k := range keys {
				raw = append(raw, k)
			}
			if got := hexOf(raw); got != tc.wantKeys || source != tc.wantSource {
				t.Fatalf("got %s from %s, want %s from %s", got, source, tc.wantKeys, tc.wantSource)
			}
		})
	}

	bad := []struct {
		name             string
		signer, compiled string
		property         []string
		want             string
	}{
		{"refuses a short key in the Choria setting", keyA[:10], "", nil, "plugin.choria.machine.signing_key"},
		{"refuses a long compiled-in key", "", keyA + "00", nil, "compiled in"},
		{"refuses a property key that is not hex, even when a stronger source is set", keyA, "", []string{strings.Repeat("z", 64)}, "public_key property"},
		{"refuses a private key given as a public key", "", "", []string{keyA + keyB}, "64 hex characters"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := TrustedKeys(tc.signer, tc.compiled, tc.property)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, errs.ErrInvalidKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want ErrInvalidKey mentioning %q", err, tc.want)
			}
		})
	}
}
