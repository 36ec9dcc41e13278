package nodeloop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/rollout"
)

func policy(t *testing.T, js string) rollout.Policy {
	t.Helper()
	p, err := rollout.ParsePolicy([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStateHealth(t *testing.T) {
	state := map[string]string{"web": "RUNNING", "db": "FAILED", "cache": "STARTING"}
	h := StateHealth(func(m string) string { return state[m] }, time.Minute)
	p := policy(t, `{"waves":["100%"],"healthy_states":["RUNNING"],"failed_states":["FAILED"]}`)
	long := time.Now().Add(-2 * time.Minute)
	for _, c := range []struct {
		machine   string
		installed time.Time
		want      Health
		says      string
	}{
		{"web", time.Now(), HealthPending, "for Choria to run the new version"},
		{"web", long, HealthGood, "RUNNING, one of healthy_states"},
		{"db", long, HealthBad, "FAILED, one of failed_states"},
		{"cache", long, HealthPending, "not one of healthy_states"},
		{"gone", long, HealthPending, "not running"},
	} {
		got, why := h(context.Background(), c.machine, p, c.installed)
		if got != c.want || !strings.Contains(why, c.says) {
			t.Errorf("%s: %v %q, want %v saying %q", c.machine, got, why, c.want, c.says)
		}
	}
	if got, why := h(context.Background(), "cache", policy(t, `{"waves":["100%"]}`), long); got != HealthGood {
		t.Errorf("without healthy_states a running machine is %v (%s), want healthy", got, why)
	}
}

func TestCommandHealth(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := CommandHealth(dir)
	for _, c := range []struct {
		policy string
		want   Health
		says   string
	}{
		{`{"waves":["100%"]}`, HealthGood, "no health_command"},
		{`{"waves":["100%"],"health_command":["sh","-c","test -d ../web && pwd | grep -q /web$"]}`, HealthGood, "exited 0"},
		{`{"waves":["100%"],"health_command":["sh","-c","echo not yet; exit 3"]}`, HealthPending, "exited 3: not yet"},
		{`{"waves":["100%"],"health_command":["sleep","5"],"health_timeout":"100ms"}`, HealthPending, "did not end within health_timeout 100ms"},
		{`{"waves":["100%"],"health_command":["/nonexistent/check"]}`, HealthPending, "could not run"},
	} {
		got, why := h(context.Background(), "web", policy(t, c.policy), time.Now())
		if got != c.want || !strings.Contains(why, c.says) {
			t.Errorf("%s: %v %q, want %v saying %q", c.policy, got, why, c.want, c.says)
		}
	}
}
