package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
)

// lockedBuffer is a log sink the test reads while the publisher writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPublishAndRead(t *testing.T) {
	_, js := testnats.Connect(t, testnats.Start(t).ClientURL())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))

	// Before the bucket exists: the node says so once, and goes on.
	r := &Reporter{Identity: "web1.example.net", Host: "mms agent", Heartbeat: 50 * time.Millisecond}
	p := NewPublisher(DefaultBucket, r, log)
	go p.Run(ctx, js)
	testwait.Eventually(t, 10*time.Second, "a warning that the status cannot be published", func() bool {
		return strings.Contains(logs.String(), "could not publish this node's status")
	})
	if _, _, err := Read(ctx, js, DefaultBucket); err == nil {
		t.Fatal("read a bucket that does not exist")
	}
	if err := EnsureBucket(ctx, js, BucketConfig(DefaultBucket, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := EnsureBucket(ctx, js, BucketConfig(DefaultBucket, 1, time.Hour)); err != nil {
		t.Fatalf("a second EnsureBucket: %v", err)
	}
	r2 := &Reporter{Identity: "odd identity/ü", Host: "choria", Heartbeat: time.Hour}
	p2 := NewPublisher(DefaultBucket, r2, log)
	go p2.Run(ctx, js)

	p.Observe(nodeloop.Outcome{Triggers: []nodeloop.Trigger{nodeloop.TriggerSpecification}, Revision: 9,
		Report: &machines.Report{Format: 2, Version: 90, Signed: true, Results: []machines.Result{{Name: "web", Action: machines.ActionInstall, Checksum: "aa"}}}})
	var got []Status
	testwait.Eventually(t, 10*time.Second, "both statuses, the first on revision 9", func() bool {
		var err error
		got, _, err = Read(ctx, js, DefaultBucket)
		if err != nil || len(got) != 2 {
			return false
		}
		for _, s := range got {
			if s.Identity == "web1.example.net" && s.Spec != nil && s.Spec.Revision == 9 {
				return true
			}
		}
		return false
	})
	if !strings.Contains(logs.String(), "published again") {
		t.Errorf("no word that publishing works again:\n%s", logs.String())
	}

	// The heartbeat says it again, unchanged.
	kv, err := js.KeyValue(ctx, DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	first, err := kv.Get(ctx, Key("web1.example.net"))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Eventually(t, 10*time.Second, "a heartbeat", func() bool {
		e, err := kv.Get(ctx, Key("web1.example.net"))
		return err == nil && e.Revision() > first.Revision()
	})
	if k := Key("odd identity/ü"); !strings.HasPrefix(k, "id-") {
		t.Errorf("key %q for an identity that cannot be a key", k)
	}

	// A value that is not a status is skipped, not fatal; so is a status stored under
	// another node's key (a node speaking for another), and one that contradicts itself.
	if _, err := kv.Put(ctx, "junk", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	impostor, _ := json.Marshal(Status{Schema: Schema, Identity: "web1.example.net", Outcome: OutcomeConverged})
	if _, err := kv.Put(ctx, "db1.example.net", impostor); err != nil {
		t.Fatal(err)
	}
	liar, _ := json.Marshal(Status{Schema: Schema, Identity: "db2", Outcome: OutcomeRefused})
	if _, err := kv.Put(ctx, "db2", liar); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := Read(ctx, js, DefaultBucket)
	if err != nil || len(got) != 2 || skipped != 3 {
		t.Fatalf("read %d statuses, skipped %d: %v", len(got), skipped, err)
	}
}
