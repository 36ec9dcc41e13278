package watchers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestGovernorFunc(t *testing.T) {
	t.Run("enters the entry's governor with the configured timeout and leaves it on release", func(t *testing.T) {
		var gotName string
		var gotTimeout time.Duration
		left := 0
		enter := func(ctx context.Context, governor string, timeout time.Duration) (func() error, error) {
			gotName, gotTimeout = governor, timeout
			return func() error { left++; return nil }, nil
		}
		release, err := governorFunc(enter, 42*time.Second, t.Logf)(context.Background(), "web", "web_rollout")
		if err != nil {
			t.Fatal(err)
		}
		if gotName != "web_rollout" || gotTimeout != 42*time.Second || left != 0 {
			t.Fatalf("entered %q with %v, left %d times before release", gotName, gotTimeout, left)
		}
		release()
		if left != 1 {
			t.Fatalf("left %d times", left)
		}
	})

	t.Run("fails the entry, naming it and the governor, when no slot comes in time", func(t *testing.T) {
		enter := func(ctx context.Context, governor string, timeout time.Duration) (func() error, error) {
			return nil, context.DeadlineExceeded
		}
		_, err := governorFunc(enter, time.Second, t.Logf)(context.Background(), "web", "web_rollout")
		if !errors.Is(err, errGovernor) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v", err)
		}
		if !strings.Contains(err.Error(), `entry "web"`) || !strings.Contains(err.Error(), `"web_rollout"`) || reasonLabel(err) != "governor" {
			t.Fatalf("error %q", err)
		}
	})

	t.Run("warns when leaving the governor fails", func(t *testing.T) {
		var warned string
		enter := func(ctx context.Context, governor string, timeout time.Duration) (func() error, error) {
			return func() error { return fmt.Errorf("broker gone") }, nil
		}
		release, err := governorFunc(enter, time.Second, func(f string, a ...any) { warned = fmt.Sprintf(f, a...) })(context.Background(), "web", "g")
		if err != nil {
			t.Fatal(err)
		}
		release()
		if !strings.Contains(warned, "broker gone") {
			t.Fatalf("warned %q", warned)
		}
	})
}

func TestNewKeys(t *testing.T) {
	props := func(extra map[string]any) map[string]any {
		p := map[string]any{"data_item": "spec"}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}

	t.Run("takes the Choria signing key over the property", func(t *testing.T) {
		m, _ := testMachine(t)
		m.SetSignerKey(keyA)
		w, err := newWatcher(m, "machines", nil, nil, "", "", "", 0, props(map[string]any{"public_key": keyB}))
		if err != nil {
			t.Fatal(err)
		}
		if w.keySource != KeySourceChoria || len(w.keys) != 1 {
			t.Fatalf("keys from %s: %d", w.keySource, len(w.keys))
		}
	})

	t.Run("takes a compiled-in key over the property", func(t *testing.T) {
		m, _ := testMachine(t)
		old := PublicKey
		PublicKey = keyA
		t.Cleanup(func() { PublicKey = old })
		w, err := newWatcher(m, "machines", nil, nil, "", "", "", 0, props(map[string]any{"public_key": keyB}))
		if err != nil {
			t.Fatal(err)
		}
		if w.keySource != KeySourceCompiled {
			t.Fatalf("keys from %s", w.keySource)
		}
	})

	t.Run("refuses to start with a malformed Choria signing key instead of panicking later", func(t *testing.T) {
		m, _ := testMachine(t)
		m.SetSignerKey("abcd")
		_, err := newWatcher(m, "machines", nil, nil, "", "", "", 0, props(nil))
		if err == nil || !strings.Contains(err.Error(), "plugin.choria.machine.signing_key") {
			t.Fatalf("error %v", err)
		}
	})

	t.Run("refuses an interval below two seconds", func(t *testing.T) {
		m, _ := testMachine(t)
		if _, err := New(m, "machines", nil, nil, "", "", "1s", 0, props(nil)); err == nil {
			t.Fatal("accepted")
		}
	})
}
