package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testarchive"
)

// migrateTimeout bounds each wait of the migration tests: a go-choria manager needs a loader
// tick (10 s) to start and one to load what it installed.
const migrateTimeout = 90 * time.Second

// webMachine is a machine Choria loads and runs: one state, one timer watcher.
func webMachine(marker string) map[string]string {
	return map[string]string{
		"machine.yaml": "name: web\nversion: 1.0.0\ninitial_state: RUN\n" +
			"transitions:\n  - name: again\n    from: [RUN]\n    destination: RUN\n" +
			"watchers:\n  - name: tick\n    type: timer\n    state_match: [RUN]\n    properties:\n      timer: 1h\n",
		"marker.txt": marker,
	}
}

// TestMigrateFromGoChoria runs a node on a stock go-choria build (v0.29.4 or v0.30.2) until one
// of its managers has deployed a machine, restarts it on this project's choria with the same
// machines directory, and checks that mms takes the machine over without downloading it,
// removes go-choria's mm_ manager directory, and applies a later update.
func TestMigrateFromGoChoria(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, hex.EncodeToString(pub))
	c.mustChoria(nil, "kv", "add", "MACHINES", "--max-value-size", "1048576")
	c.mustChoria(nil, "kv", "add", "CHORIA_PLUGINS", "--max-value-size", "1048576")
	srv := testarchive.NewServer(t)
	keyFile := filepath.Join(c.dir, "signing.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(priv)), 0o600); err != nil {
		t.Fatal(err)
	}

	// entries publishes the archive of web with marker and returns the spec entries as JSON.
	entries := func(t *testing.T, marker string) string {
		body, res := testarchive.Machine(t, "web", webMachine(marker))
		url := srv.Put("/web-"+marker+".tgz", body)
		b, err := json.Marshal([]map[string]string{{"name": "web", "source": url, "checksum": res.Checksum, "verify_checksum": res.VerifyChecksum}})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "machines.json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// pluginsPack packs the entries with the operator's `choria machine plugins pack`; both
	// releases write the same envelope.
	pluginsPack := func(t *testing.T, file string) string {
		out, err := runCmd(nil, operatorBin, "machine", "plugins", "pack", file, hex.EncodeToString(priv))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	pluginsManager := []string{"plugin.machines.download = true", "plugin.machines.signing_key = " + hex.EncodeToString(pub)}

	scenarios := []struct {
		name     string
		identity string
		// stock is the go-choria node the fleet ran before mms.
		stock string
		// stockLines configure the go-choria manager; pack makes its spec, put publishes it.
		stockLines []string
		pack       func(t *testing.T, file string) string
		put        []string
	}{
		{
			name:     "from go-choria v0.29.4's machines watcher",
			identity: "one.e2e",
			stock:    operatorBin,
			pack: func(t *testing.T, file string) string {
				// mms pack --format v1 is byte for byte what go-choria's mms pack prints.
				return strings.TrimSpace(mms(t, nil, "pack", "--format", "v1", file, keyFile))
			},
			put: []string{"MACHINES", "spec"},
		},
		{
			name:       "from go-choria v0.29.4's plugins manager",
			identity:   "two.e2e",
			stock:      operatorBin,
			stockLines: pluginsManager,
			pack:       pluginsPack,
			put:        []string{"CHORIA_PLUGINS", "machines"}, // v0.29.4's default key
		},
		{
			name:       "from go-choria v0.30.2's plugins manager",
			identity:   "three.e2e",
			stock:      stock030Bin,
			stockLines: pluginsManager,
			pack:       pluginsPack,
			put:        []string{"CHORIA_PLUGINS", "plugins"}, // v0.30's default key
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			n := c.startMigrateNode(t, sc.stock, sc.identity, sc.stockLines)
			web := filepath.Join(n.machines, "web")
			mmWeb := filepath.Join(n.machines, "mm_web")

			env := sc.pack(t, entries(t, "v1"))
			c.mustChoria(nil, "kv", "put", sc.put[0], sc.put[1], env)
			waitFor(t, migrateTimeout, "go-choria to deploy web", func() (bool, string) {
				b, err := os.ReadFile(filepath.Join(web, "marker.txt"))
				return err == nil && string(b) == "v1" && fileExists(filepath.Join(mmWeb, "machine.yaml")), tail(n.log, 20)
			})
			downloads := srv.Total()
			ino := inodeOf(t, web)

			// The same node, on this project's choria: the spec now comes from mms's bucket and key,
			// and go-choria's plugins manager is switched off (README: Migrating from go-choria).
			if err := n.proc.stop(); err != nil {
				t.Fatal(err)
			}
			c.mustChoria(nil, "kv", "put", "MACHINES", "machines", env)
			writeConfig(t, n.conf, n.lines)
			started := time.Now()
			n.proc = startProc(t, n.identity, n.log+".out", nil, choriaBin, "server", "run", "--config", n.conf)
			waitFor(t, migrateTimeout, "mms to retire mm_web", func() (bool, string) {
				return !fileExists(mmWeb), tail(n.log, 20)
			})
			state, err := os.ReadFile(filepath.Join(n.machines, ".mms", "state.json"))
			if err != nil || !strings.Contains(string(state), `"web"`) {
				t.Fatalf("web is not recorded as managed: %v\n%s", err, state)
			}
			if got := srv.Total(); got != downloads {
				t.Fatalf("the archive server saw %d new requests during the takeover", got-downloads)
			}
			if inodeOf(t, web) != ino {
				t.Fatal("web was replaced during the takeover")
			}
			waitFor(t, migrateTimeout, "Choria to stop mm_web and run web", func() (bool, string) {
				log := logSince(t, n.log, started)
				return strings.Contains(log, "Machine mm_web does not exist anymore") && strings.Contains(log, "Loaded Autonomous Agent web"), tail(n.log, 20)
			})

			// A later update, published with mms pack, applies normally.
			next := strings.TrimSpace(mms(t, nil, "pack", entries(t, "v2"), keyFile))
			c.mustChoria(nil, "kv", "put", "MACHINES", "machines", next)
			waitFor(t, migrateTimeout, "mms to update web", func() (bool, string) {
				b, _ := os.ReadFile(filepath.Join(web, "marker.txt"))
				return string(b) == "v2", tail(n.log, 20)
			})
			if fileExists(mmWeb) {
				t.Fatal("mm_web came back")
			}
		})
	}
}

// migrateNode is a node whose configuration the test rewrites between binaries.
type migrateNode struct {
	*node
	lines []string // the configuration, without the go-choria manager's lines
}

// startMigrateNode starts bin as a `choria server` with the cluster's usual node configuration
// plus extra, and keeps the configuration without extra for the restart.
func (c *cluster) startMigrateNode(t *testing.T, bin, identity string, extra []string) *migrateNode {
	t.Helper()
	n, lines := c.prepareNode(t, identity, `{}`)
	writeConfig(t, n.conf, lines, extra)
	n.proc = startProc(t, identity, n.log+".out", nil, bin, "server", "run", "--config", n.conf)
	return &migrateNode{node: n, lines: lines}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// logSince returns the lines of a Choria log (JSON, one object a line) written at or after since.
func logSince(t *testing.T, path string, since time.Time) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		var line struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && !line.Time.Before(since.Truncate(time.Second)) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
