package machines

import (
	"errors"
	"github.com/mms-io/mms/machines/install"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	sumA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	sumB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestFindGoChoriaManager(t *testing.T) {
	for _, tmpl := range []string{"machineswatcher", "pluginswatcher"} {
		t.Run("recognises what go-choria's "+tmpl+" renders", func(t *testing.T) {
			dir := t.TempDir()
			writeManager(t, dir, "web", goChoriaRendering{tmpl, "web", dir, "https://user:pw@example.net/web.tgz", sumA, sumB}.render(t))
			m, err := FindGoChoriaManager(dir, "web")
			if err != nil || m == nil {
				t.Fatalf("got %+v, %v", m, err)
			}
			if m.Dir != "mm_web" || m.Machine != "web" || m.Checksum != sumA || m.VerifyChecksum != sumB {
				t.Fatalf("got %+v", m)
			}
			if strings.Contains(m.Source, "pw") {
				t.Fatalf("source keeps its password: %s", m.Source)
			}
		})
	}
	t.Run("finds nothing when there is no manager directory", func(t *testing.T) {
		m, err := FindGoChoriaManager(t.TempDir(), "web")
		if m != nil || err != nil {
			t.Fatalf("got %+v, %v", m, err)
		}
	})
	t.Run("compares the target as cleaned paths", func(t *testing.T) {
		dir := t.TempDir()
		writeManager(t, dir, "web", goChoriaRendering{"machineswatcher", "web", dir + "//./", "http://x/w.tgz", sumA, sumB}.render(t))
		if m, err := FindGoChoriaManager(dir, "web"); err != nil || m == nil {
			t.Fatalf("got %+v, %v", m, err)
		}
	})

	// Look-alikes: each must be refused with ErrNotGoChoriaManager, and the password of the
	// plugins rendering never quoted.
	genuine := func(dir string) goChoriaRendering {
		return goChoriaRendering{"pluginswatcher", "web", dir, "http://x/w.tgz", sumA, sumB}
	}
	lookalikes := []struct {
		name  string
		setup func(t *testing.T, dir string)
		why   string
	}{
		{"an extra file beside machine.yaml", func(t *testing.T, dir string) {
			mdir := writeManager(t, dir, "web", genuine(dir).render(t))
			os.WriteFile(filepath.Join(mdir, "notes.txt"), []byte("mine"), 0o600)
		}, "not only machine.yaml"},
		{"an empty directory", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "mm_web"), 0o700)
		}, "not only machine.yaml"},
		{"a watcher that creates another machine", func(t *testing.T, dir string) {
			r := genuine(dir)
			writeManager(t, dir, "web", []byte(strings.Replace(string(r.render(t)), `creates: "web"`, `creates: "db"`, 1)))
		}, `creates "db"`},
		{"a watcher that targets another directory", func(t *testing.T, dir string) {
			r := genuine(dir)
			r.target = filepath.Join(dir, "elsewhere")
			writeManager(t, dir, "web", r.render(t))
		}, "target"},
		{"a relative target", func(t *testing.T, dir string) {
			r := genuine(dir)
			r.target = "machines"
			writeManager(t, dir, "web", r.render(t))
		}, "target"},
		{"a machine of another name", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte(strings.Replace(string(genuine(dir).render(t)), `name: "mm_web"`, `name: "web_manager"`, 1)))
		}, `"web_manager"`},
		{"a watcher of another type", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte(strings.Replace(string(genuine(dir).render(t)), "type: archive", "type: exec", 1)))
		}, `type "exec"`},
		{"a second watcher", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", append(genuine(dir).render(t), []byte("  - name: other\n    type: exec\n")...))
		}, "2 watchers"},
		{"a key go-choria does not render", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", append(genuine(dir).render(t), []byte("data:\n  x: 1\n")...))
		}, `"data"`},
		{"a watcher with a success transition", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte(strings.Replace(string(genuine(dir).render(t)), "    type: archive\n", "    type: archive\n    success_transition: resume\n", 1)))
		}, `"success_transition"`},
		{"a property go-choria does not render", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte(strings.Replace(string(genuine(dir).render(t)), "      verify: ", "      insecure: true\n      verify: ", 1)))
		}, `"insecure"`},
		{"a file that is not YAML", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte("name: [unclosed\n\tpassword: s3cret"))
		}, "not YAML"},
		{"a YAML list", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte("- a\n- b\n"))
		}, "not a YAML mapping"},
		{"two YAML documents", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", append(genuine(dir).render(t), []byte("\n---\nname: x\n")...))
		}, "more than one YAML document"},
		{"a duplicate key", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", append(genuine(dir).render(t), []byte("name: mm_web\n")...))
		}, "already defined"},
		{"a value of the wrong type, without quoting it", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", []byte("name: mm_web\nwatchers: s3cret\n"))
		}, "wrong type"},
		{"a machine.yaml larger than MaxManagerYAML", func(t *testing.T, dir string) {
			writeManager(t, dir, "web", append(genuine(dir).render(t), []byte("#"+strings.Repeat("x", MaxManagerYAML))...))
		}, "larger than"},
		{"a symlink to a genuine rendering elsewhere", func(t *testing.T, dir string) {
			other := t.TempDir()
			mdir := writeManager(t, other, "web", genuine(dir).render(t))
			os.Symlink(mdir, filepath.Join(dir, "mm_web"))
		}, "symlink"},
		{"a machine.yaml that is a symlink", func(t *testing.T, dir string) {
			other := t.TempDir()
			mdir := writeManager(t, other, "web", genuine(dir).render(t))
			os.Mkdir(filepath.Join(dir, "mm_web"), 0o700)
			os.Symlink(filepath.Join(mdir, "machine.yaml"), filepath.Join(dir, "mm_web", "machine.yaml"))
		}, "symlink"},
		{"a regular file named mm_web", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "mm_web"), genuine(dir).render(t), 0o600)
		}, "not a directory"},
	}
	for _, la := range lookalikes {
		t.Run("refuses "+la.name, func(t *testing.T) {
			dir := t.TempDir()
			la.setup(t, dir)
			m, err := FindGoChoriaManager(dir, "web")
			if m != nil || !errors.Is(err, ErrNotGoChoriaManager) {
				t.Fatalf("got %+v, %v", m, err)
			}
			if !strings.Contains(err.Error(), la.why) {
				t.Fatalf("error %q does not say %q", err, la.why)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error quotes the password: %v", err)
			}
		})
	}
	t.Run("refuses an invalid machine name before touching the disk", func(t *testing.T) {
		if _, err := FindGoChoriaManager(t.TempDir(), "../web"); err == nil {
			t.Fatal("accepted ../web")
		}
	})
}

// retire runs retireGoChoriaManager through a store of dir, as Apply does.
func retire(t *testing.T, dir, machine string) error {
	t.Helper()
	st, err := install.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return retireGoChoriaManager(st, machine)
}

func TestRetireGoChoriaManager(t *testing.T) {
	t.Run("renames the manager away and deletes it", func(t *testing.T) {
		dir := t.TempDir()
		writeManager(t, dir, "web", goChoriaRendering{"machineswatcher", "web", dir, "http://x/w.tgz", sumA, sumB}.render(t))
		if err := retire(t, dir, "web"); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != ".mms" {
			t.Fatalf("left %v besides mms's own state", entries)
		}
	})
	t.Run("never follows a symlink planted in place of the manager after the plan", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		mdir := writeManager(t, other, "web", goChoriaRendering{"machineswatcher", "web", dir, "http://x/w.tgz", sumA, sumB}.render(t))
		if err := os.Symlink(mdir, filepath.Join(dir, "mm_web")); err != nil {
			t.Fatal(err)
		}
		if err := retire(t, dir, "web"); !errors.Is(err, ErrNotGoChoriaManager) {
			t.Fatalf("got %v", err)
		}
		if !exists(filepath.Join(mdir, "machine.yaml")) || !exists(filepath.Join(dir, "mm_web")) {
			t.Fatal("the symlink or its target was removed")
		}
	})
	t.Run("keeps a manager edited after the plan", func(t *testing.T) {
		dir := t.TempDir()
		mdir := writeManager(t, dir, "web", goChoriaRendering{"machineswatcher", "web", dir, "http://x/w.tgz", sumA, sumB}.render(t))
		os.WriteFile(filepath.Join(mdir, "extra"), nil, 0o600)
		if err := retire(t, dir, "web"); !errors.Is(err, ErrNotGoChoriaManager) {
			t.Fatalf("got %v", err)
		}
		if !exists(filepath.Join(mdir, "machine.yaml")) {
			t.Fatal("removed")
		}
	})
	t.Run("is done when the manager is already gone", func(t *testing.T) {
		if err := retire(t, t.TempDir(), "web"); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseGoChoriaManager(f *testing.F) {
	for _, tmpl := range []string{"machineswatcher", "pluginswatcher"} {
		f.Add(goChoriaRendering{tmpl, "web", "/etc/choria/machines", "http://x/w.tgz", sumA, sumB}.render(f))
	}
	f.Add([]byte("name: mm_web\nwatchers: [{type: archive, properties: {creates: web, target: /etc/choria/machines}}]\n"))
	f.Add([]byte("- 1\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseGoChoriaManager(data, "/etc/choria/machines", "web")
		if (m == nil) == (err == nil) {
			t.Fatalf("got %+v and %v", m, err)
		}
		if err != nil && !errors.Is(err, ErrNotGoChoriaManager) {
			t.Fatalf("error does not wrap ErrNotGoChoriaManager: %v", err)
		}
		if m != nil && (m.Machine != "web" || m.Dir != "mm_web") {
			t.Fatalf("got %+v", m)
		}
	})
}
