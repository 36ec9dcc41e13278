package scenarios

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/internal/testwait"
)

// Host is a running host of the node loop, started on the Env's server and key by its test:
// it follows Bucket/Key, trusts Env.PublicKey, purges unknown machines, and re-verifies its
// directory at a short interval.
type Host interface {
	// Dir is the machines directory it keeps.
	Dir() string
	// Log is what it logged so far, for failure messages.
	Log() string
}

// Start starts a host for one scenario on env.
type Start func(t *testing.T, env *Env) Host

// Scenario is one behaviour of the table.
type Scenario struct {
	Name string
	Run  func(t *testing.T, env *Env, h Host)
}

// Run runs every scenario of the table, each against a fresh Env and host.
func Run(t *testing.T, start Start) {
	for _, sc := range Table {
		t.Run(sc.Name, func(t *testing.T) {
			env := NewEnv(t)
			h := start(t, env)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the host's log:\n%s", h.Log())
				}
			})
			sc.Run(t, env, h)
		})
	}
}

// says returns what the file say.txt of machine name in h's directory holds, "" when absent.
func says(h Host, name string) string {
	b, err := os.ReadFile(filepath.Join(h.Dir(), name, "say.txt"))
	if err != nil {
		return ""
	}
	return string(b)
}

// eventually waits until machine name says text in h's directory ("" for absent).
func eventually(t *testing.T, h Host, name, text string) {
	t.Helper()
	testwait.Eventually(t, Wait, fmt.Sprintf("%s to say %q", name, text), func() bool { return says(h, name) == text })
}

// tamper overwrites machine name's say.txt.
func tamper(t *testing.T, h Host, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.Dir(), name, "say.txt"), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Table is the behaviours every host must show.
var Table = []Scenario{
	{"installs a published machine", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "web", "v1")
	}},
	{"updates it to a new version", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "web", "v1")
		env.Put(env.Entry("web", "v2"))
		eventually(t, h, "web", "v2")
	}},
	{"purges a machine the specification no longer lists", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"), env.Entry("db", "v1"))
		eventually(t, h, "db", "v1")
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "db", "")
		if says(h, "web") != "v1" {
			t.Fatal("web went with db")
		}
	}},
	{"repairs a tampered file at the next interval", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "web", "v1")
		tamper(t, h, "web")
		eventually(t, h, "web", "v1")
	}},
	{"refuses a specification signed by another key, and keeps repairing what the last accepted one installed", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "web", "v1")
		_, other, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		env.PutSigned(other, env.Entry("web", "evil"))
		tamper(t, h, "web")
		eventually(t, h, "web", "v1")
	}},
	{"purges nothing when the key is deleted, and keeps repairing", func(t *testing.T, env *Env, h Host) {
		env.Put(env.Entry("web", "v1"))
		eventually(t, h, "web", "v1")
		env.Delete()
		tamper(t, h, "web")
		eventually(t, h, "web", "v1")
	}},
	{"lets a newer specification pre-empt a download that hangs", func(t *testing.T, env *Env, h Host) {
		hung, asked := env.Hanging("web")
		env.Put(hung)
		testwait.Eventually(t, Wait, "the hanging download to start", func() bool {
			select {
			case <-asked:
				return true
			default:
				return false
			}
		})
		env.Put(env.Entry("web", "fixed"))
		// Well within Wait, far short of the default download timeout (5m).
		eventually(t, h, "web", "fixed")
		if _, err := os.Stat(filepath.Join(h.Dir(), "web")); errors.Is(err, os.ErrNotExist) {
			t.Fatal("web is missing")
		}
	}},
}
