package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mms-io/mms/demo"
)

// choriaMachine is a machine.yaml go-choria loads and runs: it idles in RUNNING for an hour.
func choriaMachine(name string) string {
	return fmt.Sprintf(`name: %s
version: 1.0.0
initial_state: RUNNING
transitions:
  - name: idle
    from: [RUNNING]
    destination: IDLE
watchers:
  - name: wait
    type: timer
    state_match: [RUNNING]
    fail_transition: idle
    properties:
      timer: 1h
`, name)
}

// archiveDocV1 is the mms.archive.v1 schema, as docs/json.md lists it.
type archiveDocV1 struct {
	Schema string       `json:"schema"`
	File   string       `json:"file"`
	Files  int          `json:"files"`
	Bytes  int64        `json:"bytes"`
	Entry  printedEntry `json:"entry"`
}

// printedEntry is the entry mms archive prints: exactly these four fields.
type printedEntry struct {
	Name           string `json:"name"`
	Source         string `json:"source"`
	Checksum       string `json:"checksum"`
	VerifyChecksum string `json:"verify_checksum"`
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// refused runs mms archive on src writing into a fresh directory, and checks it exits 1
// having written nothing: no archive (nor a temporary file beside it), and no SHA256SUMS in src
// that was not there before, or a changed one. It returns what mms said on standard error.
func refused(t *testing.T, src string, args ...string) string {
	t.Helper()
	sumsPath := filepath.Join(src, "SHA256SUMS")
	sumsBefore, sumsErr := os.ReadFile(sumsPath)
	outDir := t.TempDir()
	r := mms(t, outDir, append([]string{"archive", src, "--out", filepath.Join(outDir, "out.tgz")}, args...)...)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("exit %d, want 1; stdout %q; stderr %s", r.code, r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Fatalf("refused, but wrote %v in the output directory", left)
	}
	sumsAfter, err := os.ReadFile(sumsPath)
	switch {
	case os.IsNotExist(sumsErr) && !os.IsNotExist(err):
		t.Fatalf("refused, but left a SHA256SUMS in %s (%v)", src, err)
	case sumsErr == nil && string(sumsAfter) != string(sumsBefore):
		t.Fatalf("refused, but changed the SHA256SUMS in %s", src)
	}
	return r.stderr
}

func TestArchiveRefusesWhatChoriaWouldNotLoad(t *testing.T) {
	work := t.TempDir()

	t.Run("refuses a directory without machine.yaml, writing nothing", func(t *testing.T) {
		src := filepath.Join(work, "empty")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		writeText(t, filepath.Join(src, "notes.txt"), "no manifest here\n")
		if stderr := refused(t, src); !strings.Contains(stderr, "no machine.yaml") {
			t.Fatalf("stderr does not say machine.yaml is missing: %s", stderr)
		}
	})

	t.Run("refuses invalid YAML, saying the line, writing nothing", func(t *testing.T) {
		src := writeMachine(t, work, "broken", map[string]string{"machine.yaml": "name: broken\nversion: 1.0.0\ntransitions:\n  - name: idle\n   from: [RUNNING\n"})
		stderr := refused(t, src)
		if !strings.Contains(stderr, "machine.yaml is not valid YAML") || !regexp.MustCompile(`\[5:\d+\]`).MatchString(stderr) {
			t.Fatalf("stderr does not say the YAML is invalid at line 5: %s", stderr)
		}
	})

	t.Run("keeps an existing SHA256SUMS as it was when it refuses", func(t *testing.T) {
		src := writeMachine(t, work, "stale", map[string]string{"machine.yaml": "name: stale\n", "SHA256SUMS": "not rewritten\n"})
		refused(t, src)
	})

	// What go-choria's loader (machine.FromDir) refuses, in its own words.
	for _, c := range []struct{ what, yaml, says string }{
		{"a machine with no version", "name: web\n", "a machine version is required"},
		{"a machine with no transitions", "name: web\nversion: 1.0.0\ninitial_state: RUNNING\nwatchers:\n  - name: wait\n    type: timer\n", "no transitions defined"},
		{"a watcher active in a state no transition knows", strings.Replace(choriaMachine("web"), "state_match: [RUNNING]", "state_match: [NOWHERE]", 1), "invalid state NOWHERE in state match for watcher wait"},
		{"a fail_transition that does not exist", strings.Replace(choriaMachine("web"), "fail_transition: idle", "fail_transition: vanish", 1), "invalid fail_transition vanish"},
		{"transitions that are not a list", "name: web\nversion: 1.0.0\ninitial_state: RUNNING\ntransitions: idle\n", "[4:"},
	} {
		t.Run("refuses "+c.what+", saying what go-choria says", func(t *testing.T) {
			src := writeMachine(t, t.TempDir(), "web", map[string]string{"machine.yaml": c.yaml})
			stderr := refused(t, src)
			if !strings.Contains(stderr, "go-choria refuses it") || !strings.Contains(stderr, c.says) {
				t.Fatalf("stderr does not carry go-choria's %q: %s", c.says, stderr)
			}
		})
	}

	t.Run("refuses a machine.yaml naming another machine than the directory, naming both", func(t *testing.T) {
		src := writeMachine(t, work, "web", map[string]string{"machine.yaml": choriaMachine("db")})
		stderr := refused(t, src)
		for _, want := range []string{`names the machine "db"`, `archive is named "web"`, "the directory's name", "name: web", "--name db"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q: %s", want, stderr)
			}
		}
	})

	t.Run("refuses a --name that machine.yaml does not declare, naming both", func(t *testing.T) {
		src := writeMachine(t, work, "api", map[string]string{"machine.yaml": choriaMachine("api")})
		stderr := refused(t, src, "--name", "other")
		for _, want := range []string{`names the machine "api"`, `archive is named "other" (--name)`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q: %s", want, stderr)
			}
		}
	})
}

func TestArchiveAcceptsWhatChoriaLoads(t *testing.T) {
	t.Run("archives a --name that matches machine.yaml, in a directory named otherwise", func(t *testing.T) {
		work := t.TempDir()
		src := writeMachine(t, work, "checkout", map[string]string{"machine.yaml": choriaMachine("web")})
		out := filepath.Join(work, "web.tgz")
		r := mms(t, work, "archive", src, "--name", "web", "--out", out)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var e printedEntry
		decodeStrict(t, r.stdout, &e)
		if e.Name != "web" || e.Checksum != sha256File(t, out) {
			t.Fatalf("printed %+v; the archive's sha256 is %s", e, sha256File(t, out))
		}
	})

	t.Run("archives a watcher type go-choria's old v1 schema does not list (machines)", func(t *testing.T) {
		work := t.TempDir()
		yaml := strings.Replace(choriaMachine("manage"), "type: timer", "type: machines", 1)
		src := writeMachine(t, work, "manage", map[string]string{"machine.yaml": yaml})
		if r := mms(t, work, "archive", src); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("archives every version of the demo's example machine", func(t *testing.T) {
		for _, v := range demo.Versions {
			work := t.TempDir()
			src := filepath.Join(work, demo.MachineName)
			if err := demo.WriteMachine(src, v); err != nil {
				t.Fatal(err)
			}
			if r := mms(t, work, "archive", src); r.code != 0 {
				t.Fatalf("version %s: exit %d: %s", v, r.code, r.stderr)
			}
		}
	})
}

func TestArchiveJSON(t *testing.T) {
	work := t.TempDir()
	files := map[string]string{"machine.yaml": choriaMachine("web"), "bin/run": "#!/bin/sh\n", "conf/x.json": "{}\n"}
	src := writeMachine(t, work, "web", files)
	out := filepath.Join(work, "web-1.tgz")
	r := mms(t, work, "archive", src, "--out", out, "--source", "https://repo.example.net/web-1.tgz", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc archiveDocV1
	decodeStrict(t, r.stdout, &doc)

	t.Run("prints mms.archive.v1 with the file written and the archive's and SHA256SUMS' sha256", func(t *testing.T) {
		want := printedEntry{Name: "web", Source: "https://repo.example.net/web-1.tgz",
			Checksum: sha256File(t, out), VerifyChecksum: sha256File(t, filepath.Join(src, "SHA256SUMS"))}
		if doc.Schema != "mms.archive.v1" || doc.File != out || doc.Entry != want {
			t.Fatalf("printed %+v\nwant file %s and entry %+v", doc, out, want)
		}
	})

	t.Run("counts the files and bytes archived, SHA256SUMS included", func(t *testing.T) {
		wantBytes := int64(len(sha256SumsOf(t, src)))
		for _, content := range files {
			wantBytes += int64(len(content))
		}
		if doc.Files != len(files)+1 || doc.Bytes != wantBytes {
			t.Fatalf("files %d, bytes %d; want %d and %d", doc.Files, doc.Bytes, len(files)+1, wantBytes)
		}
	})

	t.Run("keeps its hints on standard error", func(t *testing.T) {
		if !strings.Contains(r.stderr, "Wrote "+out) {
			t.Fatalf("stderr: %s", r.stderr)
		}
	})

	t.Run("prints the same entry as text, alone", func(t *testing.T) {
		text := mms(t, work, "archive", src, "--out", out, "--source", "https://repo.example.net/web-1.tgz", "--force")
		if text.code != 0 {
			t.Fatalf("exit %d: %s", text.code, text.stderr)
		}
		var e printedEntry
		decodeStrict(t, text.stdout, &e)
		if e != doc.Entry {
			t.Fatalf("text printed %+v, --json %+v", e, doc.Entry)
		}
	})
}

func sha256SumsOf(t *testing.T, src string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
