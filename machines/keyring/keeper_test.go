package keyring

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/install"
)

func TestKeeper(t *testing.T) {
	roots := newPairs(t, 2)
	anchor, _ := NewAnchor(pubs(roots...), 2)
	web := newPair(t)
	v1 := seal(t, draft(1, roots, 2, signer("web", web, "web-*")), roots...)
	v2 := seal(t, v1.Next(t0), roots...)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, ".mms", install.KeyringName)

	kp := &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1, v2).fetch, Dir: dir}
	if ss := kp.Refresh(ctx, t0, false); ss.Keyring != 2 || ss.Unusable != "" {
		t.Fatalf("got %+v", ss)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refresh told not to keep wrote %s: %v", path, err)
	}
	kp = &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1, v2).fetch, Dir: dir}
	kp.Refresh(ctx, t0, true)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept as %v: %v", fi, err)
	}

	t.Run("a new keeper starts from the keyring kept, never from an older one offered", func(t *testing.T) {
		again := &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1).fetch, Dir: dir}
		if ss := again.Refresh(ctx, t0, true); ss.Keyring != 2 {
			t.Fatalf("got %+v", ss)
		}
	})
	t.Run("a damaged file is refused, and the walk starts again from the anchor", func(t *testing.T) {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, ".mms"), 0o700)
		os.WriteFile(filepath.Join(d, ".mms", install.KeyringName), []byte(`{"anchor":"`+anchor.Fingerprint()+`","document":{"keyring":"e30="}}`), 0o600)
		kp := &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1).fetch, Dir: d}
		if ss := kp.Refresh(ctx, t0, true); ss.Keyring != 1 {
			t.Fatalf("got %+v", ss)
		}
	})
	t.Run("nothing to walk to: the signers are unusable, saying where it looked", func(t *testing.T) {
		kp := &Keeper{Anchor: anchor, Fetch: chain{}.fetch, Dir: t.TempDir(), Where: "kv M/m.keyring.N"}
		if ss := kp.Refresh(ctx, t0, true); !strings.Contains(ss.Unusable, "kv M/m.keyring.N") {
			t.Fatalf("got %+v", ss)
		}
	})
	t.Run("an unsafe state directory is not written through", func(t *testing.T) {
		d := t.TempDir()
		os.Mkdir(filepath.Join(d, ".mms"), 0o777)
		os.Chmod(filepath.Join(d, ".mms"), 0o777)
		kp := &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1).fetch, Dir: d}
		if ss := kp.Refresh(ctx, t0, true); ss.Keyring != 1 {
			t.Fatalf("got %+v", ss)
		}
		if _, err := os.Stat(filepath.Join(d, ".mms", install.KeyringName)); !os.IsNotExist(err) {
			t.Fatalf("wrote through a world-writable .mms: %v", err)
		}
		// Not kept is not held: the next refresh writes it once it can.
		if kp.Current() != nil {
			t.Fatal("a keyring that could not be kept is held")
		}
		os.Chmod(filepath.Join(d, ".mms"), 0o700)
		kp.Refresh(ctx, t0, true)
		if _, err := os.Stat(filepath.Join(d, ".mms", install.KeyringName)); err != nil || kp.Current() == nil {
			t.Fatalf("not written once it could be: %v", err)
		}
	})
	t.Run("a dry run holds nothing", func(t *testing.T) {
		kp := &Keeper{Anchor: anchor, Fetch: chain{}.add(t, v1, v2).fetch, Dir: t.TempDir()}
		if ss := kp.Refresh(ctx, t0, false); ss.Keyring != 2 || kp.Current() != nil {
			t.Fatalf("got %+v, holding %v", ss, kp.Current())
		}
	})
}
