package rollout

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// theExample is the wire form of DESIGN's contract, every field given.
const theExample = `{"waves":["1%","10%","50%","100%"],"bake":"5m","healthy_states":["RUN"],"failed_states":["FAILED"],"healthy_deadline":"5m","health_command":["/usr/bin/check","--x"],"health_timeout":"30s","max_unhealthy":"5%","on_halt":"revert"}`

func TestParsePolicy(t *testing.T) {
	t.Run("reads every field of the wire form", func(t *testing.T) {
		p, err := ParsePolicy([]byte(theExample))
		if err != nil {
			t.Fatal(err)
		}
		want := Policy{
			Waves: Waves{100, 1000, 5000, 10000}, Shares: []string{"1%", "10%", "50%", "100%"},
			Bake: 5 * time.Minute, HealthyStates: []string{"RUN"}, FailedStates: []string{"FAILED"},
			HealthyDeadline: 5 * time.Minute, HealthCommand: []string{"/usr/bin/check", "--x"}, HealthTimeout: 30 * time.Second,
			MaxUnhealthy: Budget{Hundredths: 500, Percent: true}, OnHalt: OnHaltRevert,
		}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("got  %+v\nwant %+v", p, want)
		}
	})
	t.Run("gives every optional field its default", func(t *testing.T) {
		p, err := ParsePolicy([]byte(`{"waves":["100%"]}`))
		if err != nil {
			t.Fatal(err)
		}
		want := Policy{Waves: Waves{10000}, Shares: []string{"100%"}, Bake: 5 * time.Minute, HealthyDeadline: 5 * time.Minute,
			HealthTimeout: 30 * time.Second, MaxUnhealthy: Budget{}, OnHalt: OnHaltRevert}
		if !reflect.DeepEqual(p, want) {
			t.Fatalf("got  %+v\nwant %+v", p, want)
		}
	})
	t.Run("accepts a bake of 0, hold, a count budget and the bounds", func(t *testing.T) {
		p, err := ParsePolicy([]byte(`{"waves":["50%","100%"],"bake":"0s","on_halt":"hold","max_unhealthy":"3","healthy_deadline":"24h","health_command":["./check"],"health_timeout":"24h"}`))
		if err != nil {
			t.Fatal(err)
		}
		if p.Bake != 0 || p.OnHalt != OnHaltHold || p.MaxUnhealthy != (Budget{Count: 3}) || p.HealthyDeadline != 24*time.Hour || p.HealthTimeout != 24*time.Hour {
			t.Fatalf("got %+v", p)
		}
		if p, err := ParsePolicy([]byte(`{"waves":["100%"],"bake":"168h"}`)); err != nil || p.Bake != MaxBake {
			t.Fatalf("a bake of 7 days: %+v, %v", p, err)
		}
	})
	t.Run("keeps the health timeout within a short deadline by default", func(t *testing.T) {
		p, err := ParsePolicy([]byte(`{"waves":["100%"],"healthy_deadline":"10s","health_command":["./check"]}`))
		if err != nil || p.HealthTimeout != 10*time.Second {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
	t.Run("takes a state name of 64 characters, and -, _ and digits", func(t *testing.T) {
		long := strings.Repeat("S", 64)
		p, err := ParsePolicy([]byte(`{"waves":["100%"],"healthy_states":["` + long + `","run_2-ok"]}`))
		if err != nil || len(p.HealthyStates) != 2 {
			t.Fatalf("got %+v, %v", p, err)
		}
	})
}

func TestParsePolicyRefuses(t *testing.T) {
	w := `"waves":["100%"]`
	for _, c := range []struct {
		name, in, says string
	}{
		{"a policy without waves", `{}`, "waves: required"},
		{"waves that do not end at 100%", `{"waves":["10%","50%"]}`, "waves: the last wave is 50%"},
		{"waves that do not grow", `{"waves":["10%","10%","100%"]}`, "waves: wave 2: 10% does not grow"},
		{"a wave that is no percentage", `{"waves":["10","100%"]}`, "waves: wave 1:"},
		{"a wave that is a number", `{"waves":[10,100]}`, "waves: item 1 must be a string, got 10"},
		{"waves as a string", `{"waves":"1%,100%"}`, `waves: must be a JSON array of strings`},
		{"no waves at all", `{"waves":[]}`, "waves: an empty list"},
		{"too many waves", `{"waves":["1%","2%","3%","4%","5%","6%","7%","8%","9%","10%","100%"]}`, "waves: more than 10 items"},
		{"null waves", `{"waves":null}`, "waves: must be a JSON array"},

		{"an unknown field", `{` + w + `,"bakes":"5m"}`, `unknown field "bakes"`},
		{"a field given twice", `{` + w + `,"bake":"1m","bake":"2m"}`, "field bake given twice"},
		{"waves given twice", `{` + w + `,"waves":["100%"]}`, "field waves given twice"},
		{"a key that folds to a field", `{` + w + `,"Bake":"1m"}`, `field "Bake" is not "bake" but folds to it`},
		{"a key that folds through a long s", `{` + w + `,"healthy_\u017ftates":["RUN"]}`, `is not "healthy_states" but folds to it`},

		{"a bake that is a number", `{` + w + `,"bake":300}`, `bake: must be a duration string such as "5m"`},
		{"a null bake", `{` + w + `,"bake":null}`, "bake: must be a duration string"},
		{"a bake that is no duration", `{` + w + `,"bake":"5 minutes"}`, `bake: "5 minutes" is not a duration`},
		{"a negative bake", `{` + w + `,"bake":"-1s"}`, `bake: "-1s" is negative`},
		{"a bake over 7 days", `{` + w + `,"bake":"168h1s"}`, `bake: "168h1s" is more than 7 days`},

		{"a deadline of 0", `{` + w + `,"healthy_deadline":"0s"}`, `healthy_deadline: "0s" must be more than 0`},
		{"a deadline over 24h", `{` + w + `,"healthy_deadline":"25h"}`, `healthy_deadline: "25h" is more than 24h`},
		{"a deadline that is a number", `{` + w + `,"healthy_deadline":5}`, `healthy_deadline: must be a duration string`},

		{"healthy states as a string", `{` + w + `,"healthy_states":"RUN"}`, "healthy_states: must be a JSON array of strings"},
		{"no healthy states", `{` + w + `,"healthy_states":[]}`, "healthy_states: an empty list"},
		{"an empty state name", `{` + w + `,"healthy_states":[""]}`, `healthy_states: "" is not a Choria state name`},
		{"a state name with a space", `{` + w + `,"failed_states":["NOT OK"]}`, `failed_states: "NOT OK" is not a Choria state name`},
		{"a state name with a dot", `{` + w + `,"failed_states":["a.b"]}`, `is not a Choria state name`},
		{"a state name of 65 characters", `{` + w + `,"healthy_states":["` + strings.Repeat("S", 65) + `"]}`, "is not a Choria state name"},
		{"a state listed twice", `{` + w + `,"healthy_states":["RUN","RUN"]}`, `healthy_states: "RUN" is listed twice`},
		{"a state both healthy and failed", `{` + w + `,"healthy_states":["RUN","X"],"failed_states":["X"]}`, `failed_states: "X" is in healthy_states too`},
		{"a state that is a number", `{` + w + `,"failed_states":[1]}`, "failed_states: item 1 must be a string"},
		{"too many states", `{` + w + `,"healthy_states":[` + strings.Repeat(`"S",`, MaxStates) + `"T"]}`, "healthy_states: more than 32 items"},

		{"a health command as a string", `{` + w + `,"health_command":"/usr/bin/check --x"}`, "health_command: must be a JSON array of strings"},
		{"an empty health command", `{` + w + `,"health_command":[]}`, "health_command: an empty list"},
		{"an empty argument", `{` + w + `,"health_command":["/usr/bin/check",""]}`, "health_command: item 2 is empty"},
		{"an argument holding NUL", `{` + w + `,"health_command":["/usr/bin/check","a\u0000b"]}`, "health_command: item 2 holds a NUL byte"},
		{"a number argument", `{` + w + `,"health_command":["/usr/bin/check",3]}`, "health_command: item 2 must be a string"},
		{"33 arguments", `{` + w + `,"health_command":[` + strings.Repeat(`"a",`, MaxHealthArgs) + `"b"]}`, "health_command: more than 32 items"},
		{"a huge argument", `{` + w + `,"health_command":["` + strings.Repeat("a", MaxHealthArgLength+1) + `"]}`, "health_command: item 1 is longer than 4096 bytes"},
		{"a timeout without a command", `{` + w + `,"health_timeout":"10s"}`, "health_timeout: given without a health_command"},
		{"a timeout past the deadline", `{` + w + `,"health_command":["c"],"healthy_deadline":"1m","health_timeout":"2m"}`, `health_timeout: "2m" is more than healthy_deadline (1m)`},
		{"a timeout past the default deadline", `{` + w + `,"health_command":["c"],"health_timeout":"6m"}`, `health_timeout: "6m" is more than healthy_deadline (5m)`},
		{"a timeout of 0", `{` + w + `,"health_command":["c"],"health_timeout":"0s"}`, `health_timeout: "0s" must be more than 0`},

		{"a budget that is a number", `{` + w + `,"max_unhealthy":3}`, `max_unhealthy: must be a string, a count of nodes such as "3"`},
		{"a budget that is neither", `{` + w + `,"max_unhealthy":"some"}`, `max_unhealthy: "some" is neither a count`},
		{"a budget over 100%", `{` + w + `,"max_unhealthy":"101%"}`, "max_unhealthy: "},
		{"a null budget", `{` + w + `,"max_unhealthy":null}`, "max_unhealthy: must be a string"},

		{"another on_halt", `{` + w + `,"on_halt":"stop"}`, `on_halt: "stop" is neither "revert"`},
		{"on_halt in capitals", `{` + w + `,"on_halt":"REVERT"}`, `on_halt: "REVERT" is neither`},
		{"on_halt as a boolean", `{` + w + `,"on_halt":true}`, `on_halt: must be the string "revert" or "hold", got true`},

		{"an array", `["100%"]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object, got null"},
		{"a string", `"waves"`, "must be a JSON object"},
		{"invalid JSON", `{"waves":["100%"]`, "not valid JSON"},
		{"trailing data", `{"waves":["100%"]} {}`, "not valid JSON"},
		{"nothing", ``, "not valid JSON"},
		{"invalid UTF-8", "{\"waves\":[\"100%\"],\"health_command\":[\"a\xff\"]}", "not valid UTF-8"},
		{"deep nesting", `{"waves":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nests deeper"},
		{"a huge policy", `{"waves":["100%"],"x":"` + strings.Repeat("a", MaxPolicyBytes) + `"}`, "more than 65536"},
	} {
		t.Run("refuses "+c.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(c.in))
			if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("ParsePolicy(%.120s) = %v, want a refusal saying %q", c.in, err, c.says)
			}
		})
	}
	t.Run("names every field at fault at once", func(t *testing.T) {
		_, err := ParsePolicy([]byte(`{"waves":["5%"],"bake":"-1s","on_halt":"x","extra":1}`))
		for _, want := range []string{`unknown field "extra"`, "waves: ", "bake: ", "on_halt: "} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v does not say %q", err, want)
			}
		}
	})
	t.Run("shortens a huge bad value in the message", func(t *testing.T) {
		_, err := ParsePolicy([]byte(`{"waves":["100%"],"on_halt":"` + strings.Repeat("é", 1000) + `"}`))
		if err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), "…") {
			t.Fatalf("got %d bytes: %.300v", len(err.Error()), err)
		}
	})
}

func TestPolicyMarshalJSON(t *testing.T) {
	t.Run("writes the wire form of the example as it was written", func(t *testing.T) {
		p, err := ParsePolicy([]byte(theExample))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil || string(b) != theExample {
			t.Fatalf("got %s, %v\nwant %s", b, err, theExample)
		}
	})
	t.Run("writes the defaults explicitly, and no health timeout without a command", func(t *testing.T) {
		p, err := ParsePolicy([]byte(`{"waves":["10%","100%"]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		want := `{"waves":["10%","100%"],"bake":"5m","healthy_deadline":"5m","max_unhealthy":"0","on_halt":"revert"}`
		if err != nil || string(b) != want {
			t.Fatalf("got %s, %v\nwant %s", b, err, want)
		}
	})
	t.Run("reads back equal what it writes", func(t *testing.T) {
		for _, in := range []string{theExample, `{"waves":[" 0.5% ","12.25%","100%"],"bake":"1h30m","max_unhealthy":"12.5%","on_halt":"hold"}`,
			`{"waves":["100%"],"bake":"1.5s","healthy_deadline":"90m","health_command":["sh","-c","test -f \"ok\" <&>"]}`} {
			p, err := ParsePolicy([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParsePolicy(b)
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("%s writes %s, which reads %+v, %v", in, b, again, err)
			}
		}
	})
	t.Run("writes a policy made in Go, filling what no parsed policy leaves zero", func(t *testing.T) {
		b, err := json.Marshal(Policy{Waves: Waves{2500, 10000}, HealthCommand: []string{"./check"}})
		want := `{"waves":["25%","100%"],"bake":"0s","healthy_deadline":"5m","health_command":["./check"],"health_timeout":"30s","max_unhealthy":"0","on_halt":"revert"}`
		if err != nil || string(b) != want {
			t.Fatalf("got %s, %v\nwant %s", b, err, want)
		}
	})
	t.Run("refuses to write a policy it would not read", func(t *testing.T) {
		for _, p := range []Policy{{}, {Shares: []string{"50%"}}, {Shares: []string{"100%"}, Bake: -time.Second}, {Shares: []string{"100%"}, OnHalt: "later"},
			{Shares: []string{"100%"}, HealthyStates: []string{"A"}, FailedStates: []string{"A"}}} {
			if b, err := json.Marshal(p); !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("%+v: wrote %s, %v", p, b, err)
			}
		}
	})
	t.Run("encoding/json reads a policy as strictly as ParsePolicy", func(t *testing.T) {
		var e struct {
			Rollout *Policy `json:"rollout"`
		}
		if err := json.Unmarshal([]byte(`{"rollout":{"waves":["100%"],"Bake":"1m"}}`), &e); !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("got %+v, %v", e.Rollout, err)
		}
		if err := json.Unmarshal([]byte(`{"rollout":`+theExample+`}`), &e); err != nil || e.Rollout == nil || e.Rollout.Bake != 5*time.Minute {
			t.Fatalf("got %+v, %v", e.Rollout, err)
		}
		e.Rollout = nil
		if err := json.Unmarshal([]byte(`{"rollout":null}`), &e); err != nil || e.Rollout != nil {
			t.Fatalf("null: got %+v, %v", e.Rollout, err)
		}
	})
}

func TestPolicySummary(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"waves":["1%","10%","50%","100%"],"healthy_states":["RUN"],"failed_states":["FAILED"]}`,
			"waves 1%,10%,50%,100%; bake 5m; healthy RUN within 5m; failed FAILED; max unhealthy 0; on halt revert"},
		{`{"waves":[" 5% ","100%"],"bake":"0s","healthy_states":["RUN","READY"],"healthy_deadline":"1h30m","max_unhealthy":"2.5%","on_halt":"hold"}`,
			"waves 5%,100%; bake 0s; healthy RUN,READY within 1h30m; max unhealthy 2.5%; on halt hold"},
		{`{"waves":["100%"],"health_command":["/usr/bin/check","--x","two words","a\nb"],"health_timeout":"10s"}`,
			`waves 100%; bake 5m; healthy within 5m; health command /usr/bin/check --x "two words" "a\nb", timeout 10s; max unhealthy 0; on halt revert`},
		{`{"waves":["100%"],"max_unhealthy":"3"}`, "waves 100%; bake 5m; no health check (deadline 5m); max unhealthy 3; on halt revert"},
	} {
		p, err := ParsePolicy([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Summary(); got != c.want {
			t.Errorf("Summary of %s\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		10 * time.Second: "10s", 90 * time.Second: "1m30s", time.Hour + time.Second: "1h0m1s", 1500 * time.Millisecond: "1.5s", 20 * time.Minute: "20m"} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(short(d)); err != nil || back != d {
			t.Errorf("%q reads back %v, %v", short(d), back, err)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(theExample))
	f.Add([]byte(`{"waves":["100%"]}`))
	f.Add([]byte(`{"waves":[" 0.5% ","12.25%","100%"],"bake":"1h30m","max_unhealthy":"12.5%","on_halt":"hold"}`))
	f.Add([]byte(`{"waves":["100%"],"healthy_deadline":"10s","health_command":["a","b c"]}`))
	f.Add([]byte(`{"waves":["100%"],"waves":["100%"],"Bake":1}`))
	f.Add([]byte(`{"waves":["100%"],"healthy_states":["A"],"failed_states":["A"]}`))
	f.Add([]byte("{\"waves\":[\"100%\"],\"health_command\":[\"a\xff\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("a refusal that is not ErrInvalidPolicy: %v", err)
			}
			return
		}
		if len(p.Waves) == 0 || p.Waves[len(p.Waves)-1] != 10000 || len(p.Shares) != len(p.Waves) {
			t.Fatalf("accepted waves %v (%q)", p.Waves, p.Shares)
		}
		if p.Bake < 0 || p.Bake > MaxBake || p.HealthyDeadline <= 0 || p.HealthyDeadline > MaxHealthyDeadline ||
			p.HealthTimeout <= 0 || p.HealthTimeout > p.HealthyDeadline {
			t.Fatalf("accepted durations out of bounds: %+v", p)
		}
		if p.OnHalt != OnHaltRevert && p.OnHalt != OnHaltHold {
			t.Fatalf("accepted on_halt %q", p.OnHalt)
		}
		for _, s := range p.HealthyStates {
			for _, f := range p.FailedStates {
				if s == f {
					t.Fatalf("accepted %q as healthy and failed", s)
				}
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("%+v does not write: %v", p, err)
		}
		again, err := ParsePolicy(b)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%s reads %+v, writes %s, reads back %+v, %v", data, p, b, again, err)
		}
		if s := p.Summary(); strings.ContainsAny(s, "\n\r") {
			t.Fatalf("Summary is not one line: %q", s)
		}
	})
}
