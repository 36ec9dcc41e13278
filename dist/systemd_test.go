package dist

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// The files under test, relative to this package.
const (
	unitPath = "systemd/mms-agent.service"
	envPath  = "systemd/mms-agent.env"
)

// What the unit must say outside its hardening.
const (
	// installedBinary is where docs/systemd.md installs mms and the unit runs it from.
	installedBinary = "/usr/local/bin/mms"
	// envFileDirective is the unit's EnvironmentFile=: "-", a missing file is no error (the agent then
	// refuses to run for want of a key, which is what an unconfigured node should do).
	envFileDirective = "-/etc/default/mms-agent"
	// envPrefix names the variables the unit and the example environment file share.
	envPrefix = "MMS_AGENT_"
)

// hardening is every hardening directive of the unit's [Service] section with its intended
// value; docs/systemd.md says why each is there. Each must appear exactly once.
var hardening = []struct{ key, value string }{
	{"NoNewPrivileges", "yes"},
	// No capabilities at all: root only as the owner of the files it owns.
	{"CapabilityBoundingSet", ""},
	{"AmbientCapabilities", ""},
	{"ProtectSystem", "strict"},
	{"ProtectHome", "yes"},
	{"PrivateTmp", "yes"},
	{"PrivateDevices", "yes"},
	{"ProtectKernelTunables", "yes"},
	{"ProtectKernelModules", "yes"},
	{"ProtectKernelLogs", "yes"},
	{"ProtectControlGroups", "yes"},
	{"ProtectClock", "yes"},
	{"ProtectHostname", "yes"},
	{"ProtectProc", "invisible"},
	{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
	{"RestrictNamespaces", "yes"},
	{"RestrictRealtime", "yes"},
	{"RestrictSUIDSGID", "yes"},
	{"LockPersonality", "yes"},
	{"MemoryDenyWriteExecute", "yes"},
	{"SystemCallArchitectures", "native"},
	{"SystemCallErrorNumber", "EPERM"},
}

// syscallFilter is the unit's SystemCallFilter= lines, in order: an allow-list, then what it
// takes away. The "system calls" subtest checks that it allows every call the agent makes.
var syscallFilter = []string{"@system-service", "~@privileged @resources"}

// TestAgentUnit builds mms once into a temporary directory and checks the unit and the example
// environment file against the directives above and against what `mms agent --help` prints;
// where systemd-analyze is installed, it also has systemd verify the unit and, with strace,
// checks that the system call filter allows every call mms demo (the agent's loop at work)
// makes. Every check is also run on broken copies of the files, which it must refuse.
func TestAgentUnit(t *testing.T) {
	unitText, envText := readFile(t, unitPath), readFile(t, envPath)
	bin := buildMMS(t)
	help := agentHelp(t, bin)

	t.Run("help is read", func(t *testing.T) {
		// The checks below are only as good as this reading of the help text.
		for name, takesValue := range map[string]bool{"dir": true, "public-key": true, "server": true, "purge": false, "insecure": false, "embedded-port": true} {
			got, ok := help.long[name]
			if !ok {
				t.Errorf("--%s not found in mms agent --help", name)
			} else if got != takesValue {
				t.Errorf("--%s: takes a value %v, want %v", name, got, takesValue)
			}
		}
		if help.short["v"] != "verbose" {
			t.Errorf("-v is %q, want verbose", help.short["v"])
		}
		if _, ok := help.long["no-such-flag"]; ok {
			t.Error("--no-such-flag found in mms agent --help")
		}
	})

	t.Run("shipped files", func(t *testing.T) {
		for _, err := range checkAll(unitText, envText, help) {
			t.Error(err)
		}
	})

	t.Run("checks catch mistakes", func(t *testing.T) {
		testChecksCatchMistakes(t, unitText, envText, help)
	})

	t.Run("system calls", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not on PATH: cannot list what SystemCallFilter= allows")
		}
		strace, err := exec.LookPath("strace")
		if err != nil {
			t.Skip("strace is not on PATH: cannot list the system calls the agent makes")
		}
		groups := syscallGroups(t, analyze)
		used := traceDemo(t, strace, bin)
		if denied := notAllowed(used, filterAllows(groups, syscallFilter)); len(denied) > 0 {
			t.Errorf("mms demo (the agent installing, updating and purging a machine) made system calls SystemCallFilter=%q denies: %q", syscallFilter, denied)
		}
		// The comparison must see a call a narrower filter denies.
		if narrow := []string{"@basic-io"}; len(notAllowed(used, filterAllows(groups, narrow))) == 0 {
			t.Errorf("SystemCallFilter=%q allows all of %q: the trace or the groups were misread", narrow, used)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not on PATH: the unit was not checked by systemd itself")
		}
		problems, noise := systemdVerify(t, analyze, unitText, bin)
		for _, line := range noise {
			t.Logf("systemd-analyze, about other units (not a problem of ours): %s", line)
		}
		for _, p := range problems {
			t.Errorf("systemd-analyze verify: %s", p)
		}
		// The same check must see a directive systemd does not know and a value it cannot
		// parse, or its silence above proves nothing.
		bad := replaceOnce(t, unitText, "ProtectClock=yes\n", "ProtectClok=yes\nRestrictAddressFamilies=AF_NOPE\n")
		problems, _ = systemdVerify(t, analyze, bad, bin)
		for _, want := range []string{"ProtectClok", "AF_NOPE"} {
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("systemd-analyze verify did not report %s in a broken unit; it said: %q", want, problems)
			}
		}
	})
}

// testChecksCatchMistakes runs checkAll on broken copies of the shipped files: every check
// must be able to fail.
func testChecksCatchMistakes(t *testing.T, unitText, envText string, help agentFlags) {
	type files struct{ unit, env string }
	cases := []struct {
		name   string
		mutate func(f *files)
		want   string // part of the error checkAll must report
	}{
		{"hardening weakened", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "ProtectSystem=strict", "ProtectSystem=full")
		}, `ProtectSystem="full", want "strict"`},
		{"a capability granted", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_DAC_OVERRIDE\n")
		}, `CapabilityBoundingSet="CAP_DAC_OVERRIDE", want ""`},
		{"an address family more", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "AF_UNIX", "AF_UNIX AF_NETLINK")
		}, "RestrictAddressFamilies"},
		{"a system call filter weakened", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "SystemCallFilter=~@privileged @resources\n", "SystemCallFilter=~@resources\n")
		}, "SystemCallFilter"},
		{"hardening directive twice", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "PrivateTmp=yes\n", "PrivateTmp=yes\nPrivateTmp=no\n")
		}, "PrivateTmp: given 2 times"},
		{"notify without sd_notify", func(f *files) { f.unit = replaceOnce(t, f.unit, "Type=exec", "Type=notify") }, `Type="notify"`},
		{"restart always", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "Restart=on-failure", "Restart=always")
		}, `Restart="always"`},
		{"restart storm", func(f *files) { f.unit = replaceOnce(t, f.unit, "RestartSec=5s", "RestartSec=100ms") }, "RestartSec"},
		{"usage errors restarted", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "RestartPreventExitStatus=2\n", "")
		}, "RestartPreventExitStatus"},
		{"another environment file", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "EnvironmentFile=-/etc/default/mms-agent", "EnvironmentFile=/etc/mms-agent")
		}, "EnvironmentFile"},
		{"runs as a user without the machines directory", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "[Service]\n", "[Service]\nUser=nobody\n")
		}, "User="},
		{"another binary", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "ExecStart=/usr/local/bin/mms agent", "ExecStart=/usr/bin/mms agent")
		}, "ExecStart must run /usr/local/bin/mms agent"},
		{"flag typo in the unit", func(f *files) { f.unit = replaceOnce(t, f.unit, "--dir=", "--dirr=") }, "--dirr"},
		{"flag typo in the environment file", func(f *files) {
			f.env = replaceOnce(t, f.env, `MMS_AGENT_OPTIONS="--purge --bucket`, `MMS_AGENT_OPTIONS="--purgee --bucket`)
		}, "--purgee"},
		{"flag typo in a commented alternative", func(f *files) { f.env = replaceOnce(t, f.env, "--tlscert", "--tls-cert") }, "--tls-cert"},
		{"a flag without its value", func(f *files) {
			f.env = replaceOnce(t, f.env, "--bucket MACHINES --key machines", "--bucket MACHINES --key")
		}, "--key needs a value"},
		{"a stray argument", func(f *files) { f.env = replaceOnce(t, f.env, `"--purge --bucket`, `"--purge yes --bucket`) }, `argument "yes"`},
		{"a value given to a switch", func(f *files) { f.env = replaceOnce(t, f.env, `"--purge --bucket`, `"--purge=yes --bucket`) }, "--purge takes no value"},
		{"insecure by default", func(f *files) {
			f.env = replaceOnce(t, f.env, `MMS_AGENT_TRUST="--public-key /etc/mms/ops.pub"`, `MMS_AGENT_TRUST="--insecure"`)
		}, "--insecure"},
		{"a variable no one sets", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "$MMS_AGENT_OPTIONS", "$MMS_AGENT_OPTONS")
		}, "MMS_AGENT_OPTONS"},
		{"a setting the unit never reads", func(f *files) { f.env += "MMS_AGENT_SPLAY=30s\n" }, "MMS_AGENT_SPLAY"},
		{"writable path is not the machines directory", func(f *files) {
			f.env = replaceOnce(t, f.env, "MMS_AGENT_DIR=/etc/choria/machines", "MMS_AGENT_DIR=/srv/machines")
		}, "ReadWritePaths"},
		{"a quoted ExecStart this test cannot read", func(f *files) {
			f.unit = replaceOnce(t, f.unit, "--dir=${MMS_AGENT_DIR}", `"--dir=${MMS_AGENT_DIR}"`)
		}, "ExecStart"},
	}
	// Every hardening directive, each taken out in turn.
	for _, h := range hardening {
		line := h.key + "=" + h.value + "\n"
		cases = append(cases, struct {
			name   string
			mutate func(f *files)
			want   string
		}{"without " + h.key, func(f *files) { f.unit = replaceOnce(t, f.unit, line, "") }, h.key + ": missing"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := files{unitText, envText}
			c.mutate(&f)
			errs := checkAll(f.unit, f.env, help)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), c.want) }) {
				t.Errorf("no error mentions %q; got %q", c.want, errs)
			}
		})
	}
}

// checkAll checks the unit and the environment file: its parse, the hardening, the service
// settings, and the command line with the file's values and with each alternative it shows.
func checkAll(unitText, envText string, help agentFlags) []error {
	u, err := parseUnit(unitText)
	if err != nil {
		return []error{err}
	}
	env, err := parseEnvFile(envText)
	if err != nil {
		return []error{err}
	}
	errs := checkHardening(u)
	errs = append(errs, checkService(u)...)
	errs = append(errs, checkCommand(u, env, help)...)
	return errs
}

// checkHardening checks every directive of hardening.
func checkHardening(u unitFile) []error {
	var errs []error
	for _, h := range hardening {
		ds := u.get("Service", h.key)
		switch {
		case len(ds) == 0:
			errs = append(errs, fmt.Errorf("[Service] %s: missing, want %s=%s", h.key, h.key, h.value))
		case len(ds) > 1:
			errs = append(errs, fmt.Errorf("[Service] %s: given %d times (lines %v); once is what a reader can trust", h.key, len(ds), lines(ds)))
		case h.key == "RestrictAddressFamilies":
			// A list: the same families in any order.
			got, want := strings.Fields(ds[0].value), strings.Fields(h.value)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				errs = append(errs, fmt.Errorf("[Service] line %d: RestrictAddressFamilies=%q, want the families %q", ds[0].line, ds[0].value, h.value))
			}
		case ds[0].value != h.value:
			errs = append(errs, fmt.Errorf("[Service] line %d: %s=%q, want %q", ds[0].line, h.key, ds[0].value, h.value))
		}
	}
	if got := values(u.get("Service", "SystemCallFilter")); !slices.Equal(got, syscallFilter) {
		errs = append(errs, fmt.Errorf("[Service] SystemCallFilter=%q, want the lines %q", got, syscallFilter))
	}
	return errs
}

// checkService checks the unit's settings besides its hardening and its command line.
func checkService(u unitFile) []error {
	var errs []error
	want := func(section, key, value string) {
		switch ds := u.get(section, key); {
		case len(ds) != 1:
			errs = append(errs, fmt.Errorf("[%s] %s: given %d times %q, want once: %s=%s", section, key, len(ds), values(ds), key, value))
		case ds[0].value != value:
			errs = append(errs, fmt.Errorf("[%s] line %d: %s=%q, want %q", section, ds[0].line, key, ds[0].value, value))
		}
	}
	// mms agent does not call sd_notify: exec is "started" once the binary runs.
	want("Service", "Type", "exec")
	want("Service", "Restart", "on-failure")
	want("Service", "EnvironmentFile", envFileDirective)
	// Exit 2 is a usage error, which a restart cannot mend.
	want("Service", "RestartPreventExitStatus", "2")
	want("Install", "WantedBy", "multi-user.target")
	if ds := u.get("Service", "RestartSec"); len(ds) != 1 {
		errs = append(errs, fmt.Errorf("[Service] RestartSec: given %d times, want once", len(ds)))
	} else if d, err := timeSpan(ds[0].value); err != nil {
		errs = append(errs, fmt.Errorf("[Service] line %d: RestartSec: %v", ds[0].line, err))
	} else if d < time.Second || d > time.Minute {
		errs = append(errs, fmt.Errorf("[Service] line %d: RestartSec=%s, want 1s to 1min: fast enough to come back, slow enough not to spin", ds[0].line, ds[0].value))
	}
	// The machines directory belongs to root (Choria runs as root and loads it), and .mms must
	// be owned by the user mms runs as: the unit runs as root, with no capabilities.
	for _, key := range []string{"User", "DynamicUser"} {
		for _, d := range u.get("Service", key) {
			if key != "User" || d.value != "root" {
				errs = append(errs, fmt.Errorf("[Service] line %d: %s=%s: the unit runs as root without capabilities (docs/systemd.md says how to run it as a user of its own, with a drop-in)", d.line, key, d.value))
			}
		}
	}
	return errs
}

// checkCommand expands ExecStart with the unit's Environment= defaults overridden by the
// environment file's values (as systemd does), and checks the command line it makes; then
// again with each alternative the file shows in a comment.
func checkCommand(u unitFile, env envFile, help agentFlags) []error {
	ds := u.get("Service", "ExecStart")
	if len(ds) != 1 {
		return []error{fmt.Errorf("[Service] ExecStart: given %d times, want once", len(ds))}
	}
	execStart := ds[0]
	defaults, err := unitEnvironment(u)
	if err != nil {
		return []error{err}
	}
	vars := map[string]string{}
	for k, v := range defaults {
		vars[k] = v
	}
	for k, a := range env.active {
		vars[k] = a.value
	}

	var errs []error
	argv, used, err := expandExec(execStart.value, vars)
	if err != nil {
		return []error{fmt.Errorf("[Service] line %d: ExecStart: %w", execStart.line, err)}
	}
	errs = append(errs, checkArgs(argv, help, "the environment file's values")...)
	// The shipped configuration trusts a key: an example that turns signatures off would be
	// copied.
	if slices.Contains(argv, "--insecure") {
		errs = append(errs, errors.New("the environment file's values pass --insecure: the example must trust a key"))
	}
	if !slices.ContainsFunc(argv, func(a string) bool { return a == "--public-key" || strings.HasPrefix(a, "--public-key=") }) {
		errs = append(errs, errors.New("the environment file's values pass no --public-key"))
	}
	for k, a := range env.active {
		if strings.HasPrefix(k, envPrefix) && !slices.Contains(used, k) {
			errs = append(errs, fmt.Errorf("%s line %d: %s is set but the unit's ExecStart never reads it", envPath, a.line, k))
		}
	}

	// The one path the unit lets the agent write must be the directory it manages.
	dir, ok := flagValue(argv, "dir")
	rw := u.get("Service", "ReadWritePaths")
	switch {
	case !ok:
		errs = append(errs, errors.New("ExecStart passes no --dir"))
	case len(rw) != 1:
		errs = append(errs, fmt.Errorf("[Service] ReadWritePaths: given %d times, want once: the machines directory", len(rw)))
	case strings.TrimPrefix(rw[0].value, "-") != dir:
		errs = append(errs, fmt.Errorf("[Service] line %d: ReadWritePaths=%s, but the agent manages --dir=%s: it could not write it", rw[0].line, rw[0].value, dir))
	}

	for _, alt := range env.alternatives {
		if _, ok := vars[alt.key]; !ok {
			errs = append(errs, fmt.Errorf("%s line %d: the commented %s is no variable the unit reads", envPath, alt.line, alt.key))
			continue
		}
		with := map[string]string{}
		for k, v := range vars {
			with[k] = v
		}
		with[alt.key] = alt.value
		argv, _, err := expandExec(execStart.value, with)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s line %d: %w", envPath, alt.line, err))
			continue
		}
		errs = append(errs, checkArgs(argv, help, fmt.Sprintf("%s line %d (%s)", envPath, alt.line, alt.key))...)
	}
	return errs
}

// checkArgs checks a command line the unit runs: mms agent, then only flags that mms agent
// --help lists, each flag that takes a value with one, no switch with one, and no other
// argument (mms agent takes none).
func checkArgs(argv []string, help agentFlags, from string) []error {
	if len(argv) < 2 || argv[0] != installedBinary || argv[1] != "agent" {
		return []error{fmt.Errorf("%s: ExecStart must run %s agent, runs %q", from, installedBinary, argv)}
	}
	var errs []error
	for i := 2; i < len(argv); i++ {
		a := argv[i]
		var name, value string
		var hasValue bool
		switch {
		case strings.HasPrefix(a, "--"):
			name, value, hasValue = strings.Cut(a[2:], "=")
		case len(a) == 2 && a[0] == '-':
			long, ok := help.short[a[1:]]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s is not a flag mms agent --help lists", from, a))
				continue
			}
			name = long
		default:
			errs = append(errs, fmt.Errorf("%s: argument %q: mms agent takes flags only", from, a))
			continue
		}
		takesValue, ok := help.long[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: --%s is not a flag mms agent --help lists", from, name))
		case takesValue && !hasValue:
			if i+1 == len(argv) || strings.HasPrefix(argv[i+1], "-") {
				errs = append(errs, fmt.Errorf("%s: --%s needs a value", from, name))
			} else {
				i++
			}
		case !takesValue && hasValue:
			errs = append(errs, fmt.Errorf("%s: --%s takes no value, given %q", from, name, value))
		}
	}
	return errs
}

// flagValue returns the value of --name in argv, given as --name=V or --name V.
func flagValue(argv []string, name string) (string, bool) {
	for i, a := range argv {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(argv) {
			return argv[i+1], true
		}
	}
	return "", false
}

// directive is one Key=Value line of a unit.
type directive struct {
	key, value string
	line       int
}

// unitFile is a parsed unit file: each section's directives, in order.
type unitFile struct{ sections map[string][]directive }

// parseUnit reads a systemd unit file: [Section] headers, Key=Value lines, comments starting
// with # or ;, and lines continued by a trailing backslash.
func parseUnit(text string) (unitFile, error) {
	u := unitFile{sections: map[string][]directive{}}
	section := ""
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return u, fmt.Errorf("%s line %d: a section header without its ]", unitPath, n)
			}
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return u, fmt.Errorf("%s line %d: %q is not Key=Value", unitPath, n, line)
		}
		if section == "" {
			return u, fmt.Errorf("%s line %d: %s outside any section", unitPath, n, key)
		}
		u.sections[section] = append(u.sections[section], directive{strings.TrimSpace(key), strings.TrimSpace(value), n})
	}
	return u, nil
}

// get returns every directive key of section, in order.
func (u unitFile) get(section, key string) []directive {
	var ds []directive
	for _, d := range u.sections[section] {
		if d.key == key {
			ds = append(ds, d)
		}
	}
	return ds
}

// unitEnvironment returns the variables the unit's Environment= lines set. Only unquoted
// NAME=value words are read; anything else is refused rather than misread.
func unitEnvironment(u unitFile) (map[string]string, error) {
	vars := map[string]string{}
	for _, d := range u.get("Service", "Environment") {
		if strings.ContainsAny(d.value, `"'\$%`) {
			return nil, fmt.Errorf("[Service] line %d: Environment=%s: quotes, escapes, variables and specifiers are more than this test reads", d.line, d.value)
		}
		for _, word := range strings.Fields(d.value) {
			k, v, ok := strings.Cut(word, "=")
			if !ok || !varName.MatchString(k) {
				return nil, fmt.Errorf("[Service] line %d: Environment=: %q is not NAME=value", d.line, word)
			}
			vars[k] = v
		}
	}
	return vars, nil
}

// assignment is one NAME=value line of an environment file.
type assignment struct {
	key, value string
	line       int
}

// envFile is a parsed environment file: the values it sets, and the alternatives it shows in
// comments ("#MMS_AGENT_X=...").
type envFile struct {
	active       map[string]assignment
	alternatives []assignment
}

var (
	varName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	commentedRE = regexp.MustCompile(`^#\s*(` + envPrefix + `[A-Z0-9_]*)=(.*)$`)
)

// parseEnvFile reads an environment file as systemd's EnvironmentFile= does, for the subset the
// example uses: NAME=value, the value bare (no spaces) or in double quotes (no escapes), and
// comment lines. Anything else is refused rather than misread.
func parseEnvFile(text string) (envFile, error) {
	env := envFile{active: map[string]assignment{}}
	for i, raw := range strings.Split(text, "\n") {
		n, line := i+1, strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if line[0] == '#' || line[0] == ';' {
			if m := commentedRE.FindStringSubmatch(line); m != nil {
				v, err := envValue(m[2])
				if err != nil {
					return env, fmt.Errorf("%s line %d: %w", envPath, n, err)
				}
				env.alternatives = append(env.alternatives, assignment{m[1], v, n})
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !varName.MatchString(k) {
			return env, fmt.Errorf("%s line %d: %q is not NAME=value", envPath, n, line)
		}
		if prev, dup := env.active[k]; dup {
			return env, fmt.Errorf("%s line %d: %s set again (first on line %d)", envPath, n, k, prev.line)
		}
		v, err := envValue(v)
		if err != nil {
			return env, fmt.Errorf("%s line %d: %w", envPath, n, err)
		}
		env.active[k] = assignment{k, v, n}
	}
	return env, nil
}

// envValue unquotes one value of an environment file.
func envValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	} else if strings.ContainsAny(v, " \t") {
		return "", fmt.Errorf("value %q holds spaces: quote it", v)
	}
	if strings.ContainsAny(v, `"'\$`) {
		return "", fmt.Errorf("value %q: quotes, escapes and variables inside a value are more than this test reads", v)
	}
	return v, nil
}

var (
	wordVar   = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)$`)
	bracedVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// expandExec splits an ExecStart= command line into words and expands variables as systemd
// does: a word that is exactly $NAME becomes the value split at whitespace (zero or more
// words), and ${NAME} inside a word is replaced by the value. It returns the variables it
// used, and refuses a variable nothing sets (systemd would make it empty: a typo) as well as
// quotes, escapes, specifiers and prefixes, which it does not model.
func expandExec(line string, vars map[string]string) (argv, used []string, err error) {
	if strings.ContainsAny(line, `"'\%;`) {
		return nil, nil, fmt.Errorf("%q: quotes, escapes, specifiers and ; are more than this test reads", line)
	}
	if line != "" && strings.ContainsRune("-@:+!", rune(line[0])) {
		return nil, nil, fmt.Errorf("%q: an ExecStart prefix is more than this test reads", line)
	}
	lookup := func(name string) string {
		v, ok := vars[name]
		if !ok && err == nil {
			err = fmt.Errorf("%q uses $%s, which neither Environment= nor %s sets", line, name, envPath)
		}
		if !slices.Contains(used, name) {
			used = append(used, name)
		}
		return v
	}
	for _, word := range strings.Fields(line) {
		if m := wordVar.FindStringSubmatch(word); m != nil {
			argv = append(argv, strings.Fields(lookup(m[1]))...)
			continue
		}
		word = bracedVar.ReplaceAllStringFunc(word, func(s string) string { return lookup(s[2 : len(s)-1]) })
		if strings.Contains(word, "$") {
			return nil, nil, fmt.Errorf("%q: a $ systemd would not expand the way this test reads it", word)
		}
		argv = append(argv, word)
	}
	return argv, used, err
}

// timeSpan parses a systemd time span of one unit ("5s", "500ms", "1min") or bare seconds.
func timeSpan(s string) (time.Duration, error) {
	if regexp.MustCompile(`^[0-9]+$`).MatchString(s) {
		s += "s"
	}
	d, err := time.ParseDuration(strings.Replace(s, "min", "m", 1))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time span this test reads", s)
	}
	return d, nil
}

// agentFlags are the flags mms agent --help lists: by long name, whether each takes a value;
// by short name, its long name.
type agentFlags struct {
	long  map[string]bool
	short map[string]string
}

// helpFlag matches the line that defines a flag in fisk's help: "  -v, --verbose",
// "      --dir=DIR", `      --interval="1m0s"`; not a help text's continuation line, indented
// further, that names a flag ("                                 --server is given").
var helpFlag = regexp.MustCompile(`^  (?:-([A-Za-z0-9]), |    )--([a-z0-9][a-z0-9-]*)(=\S*)?`)

// parseHelp reads the flags of a fisk help text.
func parseHelp(text string) agentFlags {
	f := agentFlags{long: map[string]bool{}, short: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		m := helpFlag.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, seen := f.long[m[2]]; seen {
			continue // the first definition is the flag's
		}
		f.long[m[2]] = m[3] != ""
		if m[1] != "" {
			f.short[m[1]] = m[2]
		}
	}
	return f
}

// buildMMS builds github.com/mms-io/mms/cmd/mms into a temporary directory.
func buildMMS(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mms")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mms-io/mms/cmd/mms")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build github.com/mms-io/mms/cmd/mms: %v\n%s", err, out)
	}
	return bin
}

// agentHelp runs bin agent --help and reads its flags.
func agentHelp(t *testing.T, bin string) agentFlags {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "agent", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("mms agent --help: %v\n%s", err, out.String())
	}
	return parseHelp(out.String())
}

// systemdVerify runs systemd-analyze verify on a copy of unitText whose ExecStart runs bin,
// so that the binary it checks for exists. It returns the lines that are about this unit
// (problems) apart from the others (about units of the host that this unit pulls in, which
// are the environment's, not ours). A non-zero exit is a problem too.
func systemdVerify(t *testing.T, analyze, unitText, bin string) (problems, noise []string) {
	t.Helper()
	text := replaceOnce(t, unitText, "ExecStart="+installedBinary+" ", "ExecStart="+bin+" ")
	path := filepath.Join(t.TempDir(), "mms-agent.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(analyze, "verify", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case line == "":
		case strings.Contains(line, "mms-agent.service"):
			problems = append(problems, line)
		default:
			noise = append(noise, line)
		}
	}
	if err != nil {
		problems = append(problems, fmt.Sprintf("exited with %v (output: %q)", err, out.String()))
	}
	return problems, noise
}

// syscallGroups reads systemd-analyze syscall-filter: each group (@name) with its members,
// system calls and other groups.
func syscallGroups(t *testing.T, analyze string) map[string][]string {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	groups, group := map[string][]string{}, ""
	for _, line := range strings.Split(string(out), "\n") {
		word := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "@"):
			group = word
			groups[group] = nil
		case word == "" || word[0] == '#' || group == "" || line == word:
			// Comments, and the calls no group lists, which start in the first column.
		default:
			groups[group] = append(groups[group], word)
		}
	}
	for _, g := range []string{"@system-service", "@privileged", "@resources", "@basic-io"} {
		if len(groups[g]) == 0 {
			t.Fatalf("systemd-analyze syscall-filter lists no %s:\n%s", g, out)
		}
	}
	return groups
}

// filterAllows returns the system calls that SystemCallFilter= lines allow: the first line's
// list, then each further line's added or, after ~, taken away, as systemd reads them.
func filterAllows(groups map[string][]string, filters []string) map[string]bool {
	var expand func(name string, into map[string]bool)
	expand = func(name string, into map[string]bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = true
			return
		}
		for _, m := range groups[name] {
			expand(m, into)
		}
	}
	allowed := map[string]bool{}
	for _, f := range filters {
		names := map[string]bool{}
		deny := strings.HasPrefix(f, "~")
		for _, n := range strings.Fields(strings.TrimPrefix(f, "~")) {
			expand(n, names)
		}
		for n := range names {
			if deny {
				delete(allowed, n)
			} else {
				allowed[n] = true
			}
		}
	}
	return allowed
}

// notAllowed returns the calls of used that allowed lacks.
func notAllowed(used []string, allowed map[string]bool) []string {
	var denied []string
	for _, c := range used {
		if !allowed[c] {
			denied = append(denied, c)
		}
	}
	return denied
}

// stracedNumbers names the system calls an older strace prints as syscall_0xNNN, on the
// architectures this table knows; a number it does not know fails the test, since no one can
// then say whether the filter allows it.
var stracedNumbers = map[string]map[string]string{
	"amd64": {"syscall_0x1c4": "fchmodat2"},
	"arm64": {"syscall_0x1c4": "fchmodat2"},
}

// straceLine matches a system call in strace -f output: "42 openat(...", "42 <... openat resumed>".
var straceLine = regexp.MustCompile(`^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)`)

// traceDemo runs mms demo (an embedded server, the agent's node loop installing, updating and
// purging a machine) under strace -f and returns the system calls it made, sorted.
func traceDemo(t *testing.T, strace, bin string) []string {
	t.Helper()
	tmp := t.TempDir()
	trace := filepath.Join(tmp, "trace")
	cmd := exec.Command(strace, "-f", "-qq", "-o", trace, bin, "demo", "--dir", filepath.Join(tmp, "machines"))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	data, readErr := os.ReadFile(trace)
	if err != nil && (readErr != nil || len(data) == 0) {
		t.Skipf("strace cannot trace here (%v): %s", err, out)
	}
	if err != nil {
		t.Fatalf("mms demo under strace: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := straceLine.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
		}
	}
	var used []string
	for c := range seen {
		if strings.HasPrefix(c, "syscall_0x") {
			name, ok := stracedNumbers[runtime.GOARCH][c]
			if !ok {
				t.Errorf("this strace does not name %s on %s: a newer strace would; until then no one can say whether SystemCallFilter= allows it", c, runtime.GOARCH)
				continue
			}
			c = name
		}
		used = append(used, c)
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if !slices.Contains(used, "openat") || !slices.Contains(used, "renameat2") {
		t.Fatalf("the trace lacks openat or renameat2, which every install makes: misread? %q", used)
	}
	t.Logf("mms demo made %d distinct system calls", len(used))
	return used
}

// replaceOnce replaces old, which must occur in s exactly once, by new.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// repoRoot is the module's root: the parent of this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find this test's source file")
	}
	return filepath.Dir(filepath.Dir(file))
}

func lines(ds []directive) []int {
	var ns []int
	for _, d := range ds {
		ns = append(ns, d.line)
	}
	return ns
}

func values(ds []directive) []string {
	var vs []string
	for _, d := range ds {
		vs = append(vs, d.value)
	}
	return vs
}
