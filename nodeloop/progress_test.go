package nodeloop

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines"
)

// TestLogProgress feeds LogProgress the reports of a quick download and of a slow one, and
// checks that only the slow one is said, after two seconds, every five, and at its end.
func TestLogProgress(t *testing.T) {
	obs := &observed{changed: make(chan struct{})}
	report := LogProgress(slog.New(obs.logHandler()), ProgressAfter, ProgressLogEvery)
	at := func(name string, elapsed time.Duration, bytes int64, done bool) {
		report(machines.Progress{Name: name, Bytes: bytes, Total: 1000, Elapsed: elapsed, Done: done})
	}
	at("quick", 100*time.Millisecond, 10, false)
	at("quick", time.Second, 1000, true)
	at("slow", time.Second, 10, false)           // not yet
	at("slow", 2100*time.Millisecond, 20, false) // said: past two seconds
	at("slow", 3*time.Second, 30, false)         // not: within five of the last
	at("slow", 7200*time.Millisecond, 70, false) // said
	at("slow", 8*time.Second, 1000, true)        // said: it ended
	logs := obs.snapshotLogs()
	if got := strings.Join(logs, "|"); got != "INFO downloading|INFO downloading|INFO download ended" {
		t.Fatalf("logged %q", got)
	}
}
