package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/mms-io/mms/internal/peer"
)

// peerMMS builds go-choria's own `mms` of the release p stands for, once per test binary; the
// product never imports it.
func peerMMS(t *testing.T, p peer.Program) string {
	t.Helper()
	if testing.Short() {
		t.Skip("building go-choria's mms peer takes a while; skipped with -short")
	}
	peerMu.Lock()
	defer peerMu.Unlock()
	if path, ok := peerPaths[p.Name]; ok {
		return path
	}
	path := peer.Build(t, p, binDir)
	peerPaths[p.Name] = path
	return path
}

var (
	peerMu    sync.Mutex
	peerPaths = map[string]string{}
)

// TestInteropWithGoChoriaMMS checks, against go-choria v0.29.4's and v0.30.2's own `mms`, that
// keys, packs and verification agree both ways.
func TestInteropWithGoChoriaMMS(t *testing.T) {
	for _, p := range []peer.Program{peer.MMS029, peer.MMS030} {
		t.Run(p.Name, func(t *testing.T) { testInterop(t, peerMMS(t, p)) })
	}
}

func testInterop(t *testing.T, peer string) {
	dir := t.TempDir()
	writeFile(t, dir, "machines.json", machinesFile)

	// Keys made by each tool must work in the other.
	gcKeys := runCmd(t, peer, dir, nil, nil, "keys")
	var gcPub, gcPriv string
	for _, line := range strings.Split(gcKeys.stdout, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "Public" {
			gcPub = f[2]
		} else if len(f) == 3 && f[0] == "Private" {
			gcPriv = f[2]
		}
	}
	ourPub, ourPriv := keyPair(t, dir)

	for _, keys := range []struct{ name, pub, priv string }{{"go-choria's key", gcPub, gcPriv}, {"our key", ourPub, ourPriv}} {
		t.Run("with "+keys.name, func(t *testing.T) {
			ours := mms(t, dir, "pack", "--format", "v1", "machines.json", keys.priv)
			theirs := runCmd(t, peer, dir, nil, nil, "pack", "machines.json", keys.priv)
			if ours.code != 0 || theirs.code != 0 {
				t.Fatalf("pack failed: ours %+v theirs %+v", ours, theirs)
			}
			t.Run("mms pack --format v1 prints go-choria's bytes exactly", func(t *testing.T) {
				if ours.stdout != theirs.stdout {
					t.Fatalf("ours:\n%s\ntheirs:\n%s", ours.stdout, theirs.stdout)
				}
			})
			writeFile(t, dir, "ours-v1.json", ours.stdout)
			writeFile(t, dir, "theirs.json", theirs.stdout)
			v2 := mms(t, dir, "pack", "machines.json", keys.priv)
			writeFile(t, dir, "ours-v2.json", v2.stdout)

			t.Run("go-choria's verify accepts our v1 and v2 specs", func(t *testing.T) {
				for _, f := range []string{"ours-v1.json", "ours-v2.json"} {
					if r := runCmd(t, peer, dir, nil, nil, "verify", f, keys.pub); r.code != 0 || !strings.Contains(r.stdout, "is signed using") {
						t.Errorf("%s: %+v", f, r)
					}
				}
			})
			t.Run("our verify accepts go-choria's spec", func(t *testing.T) {
				if r := mms(t, dir, "verify", "theirs.json", keys.pub); r.code != 0 || !strings.Contains(r.stdout, "Format: v1") {
					t.Errorf("%+v", r)
				}
			})
			t.Run("neither accepts the other's spec under a different key", func(t *testing.T) {
				other := gcPub
				if keys.pub == gcPub {
					other = ourPub
				}
				if r := mms(t, dir, "verify", "theirs.json", other); r.code != 1 {
					t.Errorf("ours accepted: %+v", r)
				}
				if r := runCmd(t, peer, dir, nil, nil, "verify", "ours-v2.json", other); r.code == 0 {
					t.Errorf("theirs accepted: %+v", r)
				}
			})
		})
	}
}
