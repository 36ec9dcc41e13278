package rollout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
	"github.com/mms-io/mms/internal/textclip"
)

// OnHalt says what the nodes that took a halted change do.
type OnHalt string

const (
	// OnHaltRevert, the default: every node that installed the change reverts to its previous
	// version.
	OnHaltRevert OnHalt = "revert"
	// OnHaltHold: only the unhealthy nodes revert; the healthy ones keep the change.
	OnHaltHold OnHalt = "hold"
)

// The defaults of a policy's optional fields.
const (
	// DefaultBake is how long the earlier waves stay healthy before the next starts.
	DefaultBake = 5 * time.Minute
	// DefaultHealthyDeadline is how long a machine has to become healthy.
	DefaultHealthyDeadline = 5 * time.Minute
	// DefaultHealthTimeout is the bound on one run of the health command, or the healthy
	// deadline when that is shorter.
	DefaultHealthTimeout = 30 * time.Second
)

// The bounds of a policy's fields.
const (
	// MaxBake bounds bake.
	MaxBake = 7 * 24 * time.Hour // 7 days
	// MaxHealthyDeadline bounds healthy_deadline.
	MaxHealthyDeadline = 24 * time.Hour
	// MaxStates bounds healthy_states and failed_states, each.
	MaxStates = 32
	// MaxStateLength bounds a state name, in bytes.
	MaxStateLength = 64
	// MaxHealthArgs bounds health_command's argv.
	MaxHealthArgs = 32
	// MaxHealthArgLength bounds one argument of health_command, in bytes.
	MaxHealthArgLength = 4 << 10 // 4 KiB
	// MaxPolicyBytes bounds a policy's JSON.
	MaxPolicyBytes = 64 << 10 // 64 KiB
)

// Policy is how one entry's change spreads through the fleet: in waves, each waiting for the
// earlier ones to stay healthy for the bake, halting once more nodes are unhealthy than the
// budget allows. ParsePolicy reads it from its wire form, a JSON object; MarshalJSON writes it.
type Policy struct {
	// Waves are the cumulative shares of the nodes, parsed from Shares.
	Waves Waves
	// Shares are the waves as written, e.g. ["1%","10%","50%","100%"].
	Shares []string
	// Bake is how long the earlier waves must stay healthy before the next starts; 0 lets
	// the next start as soon as they are healthy.
	Bake time.Duration
	// HealthyStates (Choria): the machine is healthy once in one of these states; nil for none.
	HealthyStates []string
	// FailedStates (Choria): entering one of these is unhealthy at once; nil for none.
	FailedStates []string
	// HealthyDeadline: a machine not healthy by then is unhealthy.
	HealthyDeadline time.Duration
	// HealthCommand (mms agent) is the argv of a command run in the machine's directory,
	// not split by a shell: exit 0 means healthy. nil for none.
	HealthCommand []string
	// HealthTimeout bounds one run of HealthCommand; at most HealthyDeadline.
	HealthTimeout time.Duration
	// MaxUnhealthy is how many of the nodes that took the change may be unhealthy before the
	// rollout halts.
	MaxUnhealthy Budget
	// OnHalt says what the nodes that took a halted change do.
	OnHalt OnHalt
}

// policyFields are the fields of a policy's wire form, in the order MarshalJSON writes them.
var policyFields = []string{"waves", "bake", "healthy_states", "failed_states", "healthy_deadline", "health_command", "health_timeout", "max_unhealthy", "on_halt"}

// stateRe is what a Choria state name looks like.
var stateRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ParsePolicy reads one policy in its wire form, a JSON object such as
//
//	{"waves":["1%","10%","50%","100%"],"bake":"5m","healthy_states":["RUN"],"failed_states":["FAILED"],
//	 "healthy_deadline":"5m","health_command":["/usr/bin/check","--x"],"health_timeout":"30s",
//	 "max_unhealthy":"5%","on_halt":"revert"}
//
// waves is required; the other fields default to bake 5m, no states, healthy_deadline 5m, no
// health command, health_timeout 30s (or the deadline when shorter), max_unhealthy "0" and
// on_halt "revert". Durations are Go duration strings. A policy is a safety rule and must mean
// exactly one thing: unknown fields, a field given twice (or under a key that equals a known
// one under case folding), a null and a value of the wrong JSON type are refused, and so is a
// health_timeout without a health_command. The error wraps ErrInvalidPolicy and names each
// field at fault.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidPolicy, len(data), MaxPolicyBytes)
	}
	if err := jsondepth.Check(data, jsondepth.Max); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if !gjson.ValidBytes(data) {
		return Policy{}, fmt.Errorf("%w: not valid JSON", ErrInvalidPolicy)
	}
	if !utf8.Valid(data) {
		// encoding/json would write the bad bytes as U+FFFD: the policy would change meaning
		// on its way through another program.
		return Policy{}, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPolicy)
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return Policy{}, fmt.Errorf("%w: must be a JSON object, got %s", ErrInvalidPolicy, abbreviate(root.Raw))
	}
	var problems []string
	fields := map[string]gjson.Result{}
	root.ForEach(func(key, value gjson.Result) bool {
		k := key.Str
		switch {
		case slices.Contains(policyFields, k):
			if _, dup := fields[k]; dup {
				problems = append(problems, fmt.Sprintf("field %s given twice", k))
			}
			fields[k] = value
		case foldsTo(k) != "":
			problems = append(problems, fmt.Sprintf("field %q is not %q but folds to it: write it as %q", k, foldsTo(k), foldsTo(k)))
		default:
			problems = append(problems, fmt.Sprintf("unknown field %q (a policy has %s)", abbreviate(k), strings.Join(policyFields, ", ")))
		}
		return true
	})
	var p Policy
	problems = append(problems, p.read(fields)...)
	if len(problems) > 0 {
		return Policy{}, fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(problems, "; "))
	}
	return p, nil
}

// read fills p from the fields of its wire form, each known and given once, and returns the
// problems, each naming its field.
func (p *Policy) read(fields map[string]gjson.Result) []string {
	var problems []string
	add := func(field, msg string) { problems = append(problems, field+": "+msg) }

	if v, ok := fields["waves"]; !ok {
		add("waves", "required: the cumulative shares of the nodes, such as [\"1%\", \"10%\", \"100%\"]")
	} else if shares, msg := stringList(v, "percentages such as \"10%\"", MaxWaves); msg != "" {
		add("waves", msg)
	} else if w, err := ParseWaves(shares); err != nil {
		msg := strings.TrimPrefix(err.Error(), ErrInvalidPolicy.Error()+": ")
		problems = append(problems, "waves: "+strings.TrimPrefix(msg, "waves: "))
	} else {
		p.Waves, p.Shares = w, shares
	}

	p.Bake = DefaultBake
	if d, msg := duration(fields, "bake", 0, MaxBake, "7 days"); msg != "" {
		add("bake", msg)
	} else if d >= 0 {
		p.Bake = d
	}

	for _, f := range []struct {
		name string
		to   *[]string
	}{{"healthy_states", &p.HealthyStates}, {"failed_states", &p.FailedStates}} {
		v, ok := fields[f.name]
		if !ok {
			continue
		}
		states, msg := stringList(v, "Choria state names", MaxStates)
		if msg == "" {
			msg = statesProblem(states)
		}
		if msg != "" {
			add(f.name, msg)
			continue
		}
		*f.to = states
	}
	for _, s := range p.HealthyStates {
		if slices.Contains(p.FailedStates, s) {
			add("failed_states", fmt.Sprintf("%q is in healthy_states too: a state is healthy or failed, not both", s))
		}
	}

	p.HealthyDeadline = DefaultHealthyDeadline
	if d, msg := duration(fields, "healthy_deadline", time.Nanosecond, MaxHealthyDeadline, "24h"); msg != "" {
		add("healthy_deadline", msg)
	} else if d >= 0 {
		p.HealthyDeadline = d
	}

	if v, ok := fields["health_command"]; ok {
		argv, msg := stringList(v, "the command's arguments, the program first", MaxHealthArgs)
		if msg == "" {
			msg = argvProblem(argv)
		}
		if msg != "" {
			add("health_command", msg)
		} else {
			p.HealthCommand = argv
		}
	}

	p.HealthTimeout = min(DefaultHealthTimeout, p.HealthyDeadline)
	if _, ok := fields["health_timeout"]; ok && !hasField(fields, "health_command") {
		add("health_timeout", "given without a health_command, it bounds nothing: give the command or leave the timeout out")
	} else if d, msg := duration(fields, "health_timeout", time.Nanosecond, p.HealthyDeadline, "healthy_deadline ("+short(p.HealthyDeadline)+")"); msg != "" {
		add("health_timeout", msg)
	} else if d >= 0 {
		p.HealthTimeout = d
	}

	if v, ok := fields["max_unhealthy"]; ok {
		if v.Type != gjson.String {
			add("max_unhealthy", fmt.Sprintf("must be a string, a count of nodes such as \"3\" or a share such as \"5%%\", got %s", abbreviate(v.Raw)))
		} else if b, err := ParseBudget(v.Str); err != nil {
			msg := strings.TrimPrefix(err.Error(), ErrInvalidPolicy.Error()+": ")
			problems = append(problems, msg) // ParseBudget names max_unhealthy
		} else {
			p.MaxUnhealthy = b
		}
	}

	p.OnHalt = OnHaltRevert
	if v, ok := fields["on_halt"]; ok {
		switch {
		case v.Type != gjson.String:
			add("on_halt", fmt.Sprintf("must be the string \"revert\" or \"hold\", got %s", abbreviate(v.Raw)))
		case OnHalt(v.Str) == OnHaltRevert || OnHalt(v.Str) == OnHaltHold:
			p.OnHalt = OnHalt(v.Str)
		default:
			add("on_halt", fmt.Sprintf("%q is neither \"revert\" (every node that installed the change reverts) nor \"hold\" (only the unhealthy ones do)", abbreviate(v.Str)))
		}
	}
	return problems
}

func hasField(fields map[string]gjson.Result, name string) bool {
	_, ok := fields[name]
	return ok
}

// stringList reads a non-empty JSON array of at most max strings, what describing them.
func stringList(v gjson.Result, what string, max int) ([]string, string) {
	if !v.IsArray() {
		return nil, fmt.Sprintf("must be a JSON array of strings (%s), got %s", what, abbreviate(v.Raw))
	}
	var out []string
	var msg string
	i := 0
	v.ForEach(func(_, item gjson.Result) bool {
		i++
		if item.Type != gjson.String {
			msg = fmt.Sprintf("item %d must be a string, got %s", i, abbreviate(item.Raw))
			return false
		}
		if len(out) == max {
			msg = fmt.Sprintf("more than %d items", max)
			return false
		}
		out = append(out, item.Str)
		return true
	})
	if msg != "" {
		return nil, msg
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("an empty list: give at least one (%s) or leave the field out", what)
	}
	return out, ""
}

// statesProblem says why states cannot be a list of Choria state names, or "".
func statesProblem(states []string) string {
	seen := map[string]bool{}
	for _, s := range states {
		if !stateRe.MatchString(s) {
			return fmt.Sprintf("%q is not a Choria state name (1 to %d letters, digits, _ and -)", abbreviate(s), MaxStateLength)
		}
		if seen[s] {
			return fmt.Sprintf("%q is listed twice", s)
		}
		seen[s] = true
	}
	return ""
}

// argvProblem says why argv cannot be run, or "".
func argvProblem(argv []string) string {
	for i, a := range argv {
		switch {
		case a == "":
			return fmt.Sprintf("item %d is empty", i+1)
		case len(a) > MaxHealthArgLength:
			return fmt.Sprintf("item %d is longer than %d bytes", i+1, MaxHealthArgLength)
		case strings.IndexByte(a, 0) >= 0:
			return fmt.Sprintf("item %d holds a NUL byte, which no program can be given", i+1)
		}
	}
	return ""
}

// duration reads the optional duration field name, in [lo, hi] (hiSays names hi); -1 when
// the field is absent.
func duration(fields map[string]gjson.Result, name string, lo, hi time.Duration, hiSays string) (time.Duration, string) {
	v, ok := fields[name]
	if !ok {
		return -1, ""
	}
	if v.Type != gjson.String {
		return 0, fmt.Sprintf("must be a duration string such as \"5m\" or \"30s\", got %s", abbreviate(v.Raw))
	}
	d, err := time.ParseDuration(v.Str)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("%q is not a duration such as \"5m\" or \"30s\"", abbreviate(v.Str))
	case d < lo && lo == 0:
		return 0, fmt.Sprintf("%q is negative", v.Str)
	case d < lo:
		return 0, fmt.Sprintf("%q must be more than 0", v.Str)
	case d > hi:
		return 0, fmt.Sprintf("%q is more than %s", v.Str, hiSays)
	}
	return d, ""
}

// foldsTo returns the policy field key equals under Unicode case folding without being it,
// or "".
func foldsTo(key string) string {
	for _, f := range policyFields {
		if key != f && strings.EqualFold(key, f) {
			return f
		}
	}
	return ""
}

// abbreviate shortens s for a message: a bad value may be long.
func abbreviate(s string) string { return textclip.Clip(s, 64) }

// wirePolicy is a policy's wire form, in the order of the fields of ParsePolicy's example.
type wirePolicy struct {
	Waves           []string `json:"waves"`
	Bake            string   `json:"bake"`
	HealthyStates   []string `json:"healthy_states,omitempty"`
	FailedStates    []string `json:"failed_states,omitempty"`
	HealthyDeadline string   `json:"healthy_deadline"`
	HealthCommand   []string `json:"health_command,omitempty"`
	HealthTimeout   string   `json:"health_timeout,omitempty"`
	MaxUnhealthy    string   `json:"max_unhealthy"`
	OnHalt          OnHalt   `json:"on_halt"`
}

// MarshalJSON writes p in its wire form, every field explicit (health_timeout only with a
// health_command), so that ParsePolicy reads it back to an equal Policy. Shares are written
// as given, or from Waves when none are; a zero HealthyDeadline, HealthTimeout or OnHalt, which
// no parsed policy has, is written as its default. A policy ParsePolicy would refuse is an
// error wrapping ErrInvalidPolicy: no invalid policy is ever written.
func (p Policy) MarshalJSON() ([]byte, error) {
	w := wirePolicy{Waves: p.Shares, Bake: short(p.Bake), HealthyStates: p.HealthyStates, FailedStates: p.FailedStates,
		MaxUnhealthy: p.MaxUnhealthy.String(), OnHalt: p.OnHalt}
	if len(w.Waves) == 0 {
		for _, v := range p.Waves {
			w.Waves = append(w.Waves, shareString(v))
		}
	}
	deadline := p.HealthyDeadline
	if deadline == 0 {
		deadline = DefaultHealthyDeadline
	}
	w.HealthyDeadline = short(deadline)
	if len(p.HealthCommand) > 0 {
		timeout := p.HealthTimeout
		if timeout == 0 {
			timeout = min(DefaultHealthTimeout, deadline)
		}
		w.HealthCommand, w.HealthTimeout = p.HealthCommand, short(timeout)
	}
	if w.OnHalt == "" {
		w.OnHalt = OnHaltRevert
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode rollout policy: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if _, err := ParsePolicy(out); err != nil {
		return nil, fmt.Errorf("encode rollout policy: %w", err)
	}
	return out, nil
}

// UnmarshalJSON reads p with ParsePolicy, so that encoding/json decodes an entry's policy by
// the same strict rules as a node (it would otherwise match field names case-insensitively
// and ignore unknown ones).
func (p *Policy) UnmarshalJSON(data []byte) error {
	q, err := ParsePolicy(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Summary says p in one line for people: "waves 1%,10%,50%,100%; bake 5m; healthy RUN within
// 5m; failed FAILED; max unhealthy 0; on halt revert", with "health command ARGV, timeout D"
// when it has one, and "no health check (deadline D)" when it has neither states nor command.
func (p Policy) Summary() string {
	shares := make([]string, len(p.Waves))
	for i, v := range p.Waves {
		shares[i] = shareString(v)
	}
	parts := []string{"waves " + strings.Join(shares, ","), "bake " + short(p.Bake)}
	switch {
	case len(p.HealthyStates) > 0:
		parts = append(parts, fmt.Sprintf("healthy %s within %s", strings.Join(p.HealthyStates, ","), short(p.HealthyDeadline)))
	case len(p.HealthCommand) > 0 || len(p.FailedStates) > 0:
		parts = append(parts, "healthy within "+short(p.HealthyDeadline))
	default:
		parts = append(parts, fmt.Sprintf("no health check (deadline %s)", short(p.HealthyDeadline)))
	}
	if len(p.FailedStates) > 0 {
		parts = append(parts, "failed "+strings.Join(p.FailedStates, ","))
	}
	if len(p.HealthCommand) > 0 {
		args := make([]string, len(p.HealthCommand))
		for i, a := range p.HealthCommand {
			args[i] = quoteArg(a)
		}
		parts = append(parts, fmt.Sprintf("health command %s, timeout %s", strings.Join(args, " "), short(p.HealthTimeout)))
	}
	onHalt := p.OnHalt
	if onHalt == "" {
		onHalt = OnHaltRevert
	}
	parts = append(parts, "max unhealthy "+p.MaxUnhealthy.String(), "on halt "+string(onHalt))
	return strings.Join(parts, "; ")
}

// plainArgRe is an argument Summary shows as it is; others are quoted.
var plainArgRe = regexp.MustCompile(`^[A-Za-z0-9_./=:,+@%-]+$`)

// quoteArg shows one argument of a command on one line, quoted unless plain.
func quoteArg(a string) string {
	if plainArgRe.MatchString(a) {
		return a
	}
	return strconv.Quote(a)
}

// shareString writes a share in hundredths of a percent as ParseWaves reads it: 1250 is "12.5%".
func shareString(v int) string {
	return strconv.FormatFloat(float64(v)/100, 'f', -1, 64) + "%"
}

// short writes d as time.ParseDuration reads it back exactly, without the zero units
// time.Duration.String adds: "5m", "1h30m", "30s", "0s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
