package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines/spec"
)

func TestDemoCommand(t *testing.T) {
	t.Run("runs every step to exit 0 in a fresh directory, and again in the same one", func(t *testing.T) {
		work := t.TempDir()
		for run := 1; run <= 2; run++ {
			r := mms(t, work, "demo")
			if r.code != 0 {
				t.Fatalf("run %d: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{
				"[6/6]",
				"install hello", // the second run installs again: the first one purged it
				"update hello",
				"remove hello",
				"All 6 steps worked",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("run %d: output lacks %q:\n%s", run, want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "FAILED") || r.stderr != "" {
				t.Errorf("run %d: failures or log noise:\n%s%s", run, r.stdout, r.stderr)
			}
			checkDemoVersions(t, r.stdout)
			checkDemoDurations(t, r.stdout, 6)
		}
		dir := filepath.Join(work, "mms-demo", "machines")
		if _, err := os.Stat(filepath.Join(dir, ".mms", "state.json")); err != nil {
			t.Fatalf("the demo's agent kept no record: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "hello")); !os.IsNotExist(err) {
			t.Fatalf("the purged machine is still there: %v", err)
		}
		if s := staging(t, dir); len(s) > 0 {
			t.Fatalf("staging left behind: %v", s)
		}
	})

	t.Run("names, for each step, mms commands that exist with the flags given", func(t *testing.T) {
		work := t.TempDir()
		r := mms(t, work, "demo")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		checkDemoCommands(t, work, r.stdout)
	})

	t.Run("--keep leaves the public key beside the directory and prints how to publish to the kept agent", func(t *testing.T) {
		work := t.TempDir()
		pubFile := filepath.Join(work, "mms-demo", "machines.pub")
		first := keptDemo(t, work)
		before, err := spec.LoadPublicKey(pubFile)
		if err != nil || hex.EncodeToString(before) != first.pub {
			t.Fatalf("after the first --keep: %s holds %x (%v), want the demo's key %s", pubFile, before, err, first.pub)
		}
		if code := first.p.stop(t); code != 0 {
			t.Fatalf("the kept demo exited %d on SIGTERM", code)
		}

		// A second run in the same directory replaces the key with its own, and what it
		// prints publishes to its agent, as an operator would type it.
		k := keptDemo(t, work)
		got, err := spec.LoadPublicKey(pubFile)
		if err != nil {
			t.Fatalf("%s: %v", pubFile, err)
		}
		if hex.EncodeToString(got) != k.pub || k.pub == first.pub {
			t.Fatalf("%s holds %x, want the second demo's key %s (the first's was %s)", pubFile, got, k.pub, first.pub)
		}
		put := strings.Fields(k.put)
		for flag, want := range map[string]string{
			"--server":     k.server,
			"--dir":        filepath.Join("mms-demo", "machines"),
			"--bucket":     "MACHINES",
			"--key":        "machines",
			"--public-key": filepath.Join("mms-demo", "machines.pub"),
		} {
			if got := flagValue(put, flag); got != want {
				t.Errorf("the printed put has %s %q, want %q: %s", flag, got, want, k.put)
			}
		}
		// The private key it names is the public key's pair.
		pack := strings.Fields(k.pack)
		if len(pack) != 6 || pack[0] != "mms" || pack[1] != "pack" || pack[4] != ">" {
			t.Fatalf("the printed pack is not mms pack MACHINES KEY > SPEC: %s", k.pack)
		}
		keyText, err := os.ReadFile(inDir(work, pack[3]))
		if err != nil {
			t.Fatal(err)
		}
		priv, err := hex.DecodeString(strings.TrimSpace(string(keyText)))
		if err != nil || len(priv) != ed25519.PrivateKeySize || !ed25519.PrivateKey(priv).Public().(ed25519.PublicKey).Equal(got) {
			t.Fatalf("the private key %s is not the pair of %s (%v)", pack[3], pubFile, err)
		}

		arch := newArchives(t)
		entries, err := json.Marshal([]spec.Entry{arch.machine(t, "web", "the operator's")})
		if err != nil {
			t.Fatal(err)
		}
		writeText(t, inDir(work, pack[2]), string(entries))
		r := mms(t, work, pack[1:4]...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", k.pack, r.code, r.stderr)
		}
		writeText(t, inDir(work, pack[5]), r.stdout)
		if r := mms(t, work, put[1:]...); r.code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", k.put, r.code, r.stdout, r.stderr)
		}
		dir := filepath.Join(work, "mms-demo", "machines")
		testwait.Eventually(t, waitLong, "the kept agent's install of the operator's machine", func() bool {
			return fileSays(filepath.Join(dir, "web", "greeting.txt"), "the operator's")
		})
		if code := k.p.stop(t); code != 0 {
			t.Fatalf("the kept demo exited %d on SIGTERM", code)
		}
		if _, err := spec.LoadPublicKey(pubFile); err != nil {
			t.Fatalf("the public key did not stay: %v", err)
		}
		if _, err := os.Stat(inDir(work, pack[3])); !os.IsNotExist(err) {
			t.Fatalf("the private key %s is still there after the demo: %v", pack[3], err)
		}
	})

	t.Run("--keep refuses to replace a public key file it did not write, touching nothing", func(t *testing.T) {
		work := t.TempDir()
		if err := os.Mkdir(filepath.Join(work, "mms-demo"), 0o755); err != nil {
			t.Fatal(err)
		}
		pubFile := filepath.Join(work, "mms-demo", "machines.pub")
		mine := newSigner(t).pub + "\n"
		writeText(t, pubFile, mine)
		for run := 1; run <= 2; run++ { // a refused run does not make the next one accepted
			// Started, not run: a demo that does not refuse keeps running.
			p := startMMS(t, work, "demo", "--keep")
			select {
			case <-p.done:
			case <-time.After(waitLong):
				t.Fatalf("run %d: the demo did not refuse, and keeps running:\n%s", run, p.stdout)
			}
			if code := p.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(p.stderr.String(), "which the demo did not write") {
				t.Fatalf("run %d: exit %d, want 2 and the reason:\n%s%s", run, code, p.stdout, p.stderr)
			}
		}
		if !fileSays(pubFile, mine) {
			t.Fatal("the demo replaced the operator's public key")
		}
	})

	t.Run("deploys into the directory --dir names", func(t *testing.T) {
		work := t.TempDir()
		r := mms(t, work, "demo", "--dir", "elsewhere/machines")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(work, "elsewhere", "machines", ".mms", "state.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(work, "mms-demo")); !os.IsNotExist(err) {
			t.Fatal("the default directory was created too")
		}
	})

	t.Run("refuses a directory that holds machines it did not create, touching nothing", func(t *testing.T) {
		work := t.TempDir()
		dir := filepath.Join(work, "mms-demo", "machines")
		if err := os.MkdirAll(filepath.Join(dir, "hello"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeText(t, filepath.Join(dir, "hello", "machine.yaml"), "mine")
		before := dirSnapshot(t, dir)
		r := mms(t, work, "demo")
		if r.code != 2 || !strings.Contains(r.stderr, "holds what the demo did not create (hello)") {
			t.Fatalf("exit %d, want 2 and the reason:\n%s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "the machines directory", dirSnapshot(t, dir), before)
	})

	t.Run("refuses a directory an agent manages, which it would purge and freeze", func(t *testing.T) {
		work, dir := machinesDir(t)
		arch := newArchives(t)
		key := newSigner(t)
		url := natsServer(t).ClientURL()
		p := startMMS(t, work, "agent", "--dir", dir, "--server", url, "--public-key", key.pub, "--purge", "--splay", "0s")
		key.put(t, url, key.pack(t, 1, arch.machine(t, "web", "real")))
		testwait.Eventually(t, waitLong, "the agent's install", func() bool { return fileSays(filepath.Join(dir, "web", "greeting.txt"), "real") })
		r := mms(t, work, "demo", "--dir", dir)
		if r.code != 2 || !strings.Contains(r.stderr, "holds what the demo did not create") {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
		p.stop(t)
		if !fileSays(filepath.Join(dir, "web", "greeting.txt"), "real") {
			t.Fatal("the demo touched the agent's machine")
		}
	})

	t.Run("refuses its own directory while another process holds it, naming it", func(t *testing.T) {
		work := t.TempDir()
		if r := mms(t, work, "demo"); r.code != 0 {
			t.Fatalf("first demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		dir := filepath.Join(work, "mms-demo", "machines")
		p := startMMS(t, work, "agent", "--dir", dir, "--insecure", "--embedded-port", "0")
		waitForLog(t, p, "node loop starting")
		r := mms(t, work, "demo")
		if r.code == 0 || !strings.Contains(r.stderr, "locked") || !strings.Contains(r.stderr, "(mms agent)") {
			t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("fails with a non-zero exit when the machines directory cannot be made", func(t *testing.T) {
		work := t.TempDir()
		writeText(t, filepath.Join(work, "notadir"), "")
		if r := mms(t, work, "demo", "--dir", "notadir/machines"); r.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// keptRun is a running mms demo --keep and what its output says.
type keptRun struct {
	p         *process
	pub       string // the public key, 64 hex characters, as the key file holds it
	server    string // the NATS URL step 3 names
	pack, put string // the command lines the final message prints
}

// keptDemo starts mms demo --keep in work and waits for its final message.
func keptDemo(t *testing.T, work string) (k keptRun) {
	t.Helper()
	k.p = startMMS(t, work, "demo", "--keep")
	testwait.Eventually(t, waitLong, "the kept demo's last line", func() bool { return strings.Contains(k.p.stdout.String(), "back.\n") })
	out := k.p.stdout.String()
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "    mms pack "):
			k.pack = strings.TrimSpace(line)
		case strings.HasPrefix(line, "    mms put "):
			k.put = strings.TrimSpace(line)
		}
	}
	if m := regexp.MustCompile(`NATS (nats://\S+),`).FindStringSubmatch(out); m != nil {
		k.server = m[1]
	}
	if k.pack == "" || k.put == "" || k.server == "" {
		t.Fatalf("the kept demo's output lacks the pack and put commands or the server:\n%s", out)
	}
	// Step 1 shows the key's first 16 hex characters: the key file must be that key.
	m := regexp.MustCompile(`public key ([0-9a-f]{16})…`).FindStringSubmatch(out)
	data, err := os.ReadFile(inDir(work, flagValue(strings.Fields(k.put), "--public-key")))
	if err != nil {
		t.Fatalf("the public key file the put command names: %v", err)
	}
	k.pub = strings.TrimSpace(string(data))
	if m == nil || !strings.HasPrefix(k.pub, m[1]) {
		t.Fatalf("the public key file holds %s, not the key step 1 made:\n%s", k.pub, out)
	}
	return k
}

// inDir is path as a command run in dir reads it.
func inDir(dir, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// flagValue is the word after flag in words, or "".
func flagValue(words []string, flag string) string {
	for i, w := range words[:max(len(words)-1, 0)] {
		if w == flag {
			return words[i+1]
		}
	}
	return ""
}

// checkDemoVersions checks that every number the demo prints that reads as Unix milliseconds
// (13 digits: every v2 version mms pack makes by default) is followed by its instant, and
// that the three publish steps printed one each.
func checkDemoVersions(t *testing.T, out string) {
	t.Helper()
	millis := regexp.MustCompile(`\b\d{13}\b`)
	instant := regexp.MustCompile(`^ \(([^)]+)\)`)
	found := 0
	for _, loc := range millis.FindAllStringIndex(out, -1) {
		n, _ := strconv.ParseInt(out[loc[0]:loc[1]], 10, 64)
		m := instant.FindStringSubmatch(out[loc[1]:])
		if m == nil {
			t.Errorf("%d is shown as raw milliseconds only: %q", n, out[max(loc[0]-20, 0):min(loc[1]+20, len(out))])
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil || at.UnixMilli() != n {
			t.Errorf("%d is shown as %q, which is not its instant (%v)", n, m[1], err)
		}
		found++
	}
	if got := len(regexp.MustCompile(`version \d{13} \(`).FindAllString(out, -1)); got != 3 || found < 3 {
		t.Errorf("%d versions with their instant in the publish steps (%d numbers in all), want 3:\n%s", got, found, out)
	}
}

// checkDemoDurations checks every duration the demo prints: whole milliseconds below a
// second, seconds to a tenth at most above, and one per step and the total at least.
func checkDemoDurations(t *testing.T, out string, steps int) {
	t.Helper()
	durations := regexp.MustCompile(`(?:^|[^\w.])(\d+(?:\.\d+)?)(ns|µs|us|ms|s)\b`)
	for _, m := range durations.FindAllStringSubmatch(out, -1) {
		num, unit := m[1], m[2]
		v, _ := strconv.ParseFloat(num, 64)
		switch {
		case unit == "ms" && (strings.Contains(num, ".") || v >= 1000):
			t.Errorf("%s%s: milliseconds are whole and below a second", num, unit)
		case unit == "s" && (v < 1 || len(num) > strings.Index(num+".", ".")+2):
			t.Errorf("%s%s: below a second in seconds, or not rounded", num, unit)
		case unit != "ms" && unit != "s":
			t.Errorf("%s%s: finer than milliseconds", num, unit)
		}
	}
	took := regexp.MustCompile(`(?m)^      ok in (<1ms|[1-9]\d{0,2}ms|[1-9]\d*(?:\.\d)?s): `).FindAllString(out, -1)
	total := regexp.MustCompile(`(?m)^All \d+ steps worked in (<1ms|[1-9]\d{0,2}ms|[1-9]\d*(?:\.\d)?s)\. `).MatchString(out)
	if len(took) != steps || !total {
		t.Errorf("%d steps with a readable duration (want %d), total shown: %v:\n%s", len(took), steps, total, out)
	}
}

// checkDemoCommands checks that every step names at least one mms command, that each exists
// (mms CMD --help exits 0 with that command's usage) with every flag the line gives, and that
// together they are the quick start's.
func checkDemoCommands(t *testing.T, work, out string) {
	t.Helper()
	header := regexp.MustCompile(`^\[(\d+)/\d+\] `)
	var steps [][]string
	for _, line := range strings.Split(out, "\n") {
		if header.MatchString(line) {
			steps = append(steps, nil)
		} else if c, ok := strings.CutPrefix(line, "      $ "); ok && len(steps) > 0 {
			steps[len(steps)-1] = append(steps[len(steps)-1], c)
		}
	}
	if len(steps) != 6 {
		t.Fatalf("%d steps, want 6:\n%s", len(steps), out)
	}
	helps := map[string]string{}
	named := map[string]bool{}
	for i, cmds := range steps {
		if len(cmds) == 0 {
			t.Errorf("step %d names no mms command:\n%s", i+1, out)
		}
		for _, c := range cmds {
			words := strings.Fields(c)
			if j := indexOf(words, ">"); j >= 0 {
				words = words[:j]
			}
			if len(words) < 2 || words[0] != "mms" {
				t.Errorf("step %d: %q is not an mms command", i+1, c)
				continue
			}
			name := words[1]
			help, ok := helps[name]
			if !ok {
				r := mms(t, work, name, "--help")
				if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "usage: mms "+name) {
					t.Errorf("step %d names mms %s, which does not exist: exit %d\n%s%s", i+1, name, r.code, r.stdout, r.stderr)
				}
				help = r.stdout + r.stderr
				helps[name] = help
			}
			named[name] = true
			for _, w := range words[2:] {
				flag, ok := strings.CutPrefix(w, "--")
				if !ok {
					continue
				}
				flag, _, _ = strings.Cut(flag, "=")
				if !regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?` + regexp.QuoteMeta(flag) + `(?:[= ]|$)`).MatchString(help) {
					t.Errorf("step %d: mms %s has no --%s: %s", i+1, name, flag, c)
				}
			}
		}
	}
	for _, want := range []string{"keys", "archive", "agent", "pack", "put"} {
		if !named[want] {
			t.Errorf("no step names mms %s:\n%s", want, out)
		}
	}
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return -1
}

func TestDemoFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                "<1ms",
		400 * time.Microsecond:           "<1ms",
		12345678 * time.Nanosecond:       "12ms",
		999 * time.Millisecond:           "999ms",
		999600 * time.Microsecond:        "1s",
		1234 * time.Millisecond:          "1.2s",
		42 * time.Second:                 "42s",
		59960 * time.Millisecond:         "1m",
		65 * time.Second:                 "1m5s",
		time.Hour + 400*time.Millisecond: "1h",
		time.Hour + 10*time.Minute:       "1h10m",
		time.Hour + 5*time.Second:        "1h0m5s",
	} {
		if got := readableDuration(d); got != want {
			t.Errorf("readableDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for v, want := range map[int64]string{
		1:             "1",
		999999999999:  "999999999999",
		1764625000000: "1764625000000 (2025-12-01T21:36:40.000Z)",
	} {
		if got := readableVersion(v); got != want {
			t.Errorf("readableVersion(%d) = %q, want %q", v, got, want)
		}
	}
	if got := commandLine("mms", "put", "my spec.json", "--dir", "it's"); got != `mms put 'my spec.json' --dir 'it'\''s'` {
		t.Errorf("commandLine quotes as %s", got)
	}
}
