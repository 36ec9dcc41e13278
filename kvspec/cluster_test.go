package kvspec

import (
	"github.com/mms-io/mms/internal/testwait"
	"testing"
	"time"

	"github.com/mms-io/mms/embednats"
)

func TestWatcherOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	c, err := embednats.StartCluster(3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	_, js := connect(t, c.ClientURLs())

	rev, err := Put(testCtx(t, 20*time.Second), js, "r3", "spec", []byte("v1"), BucketConfig{Replicas: 3})
	if err != nil {
		t.Fatalf("put to an R3 bucket: %v", err)
	}
	ch := watch(t, NewWatcher(js, "r3", "spec", fastOptions(100*time.Millisecond)))

	t.Run("puts and watches an R3 bucket", func(t *testing.T) {
		if u := next(t, ch, waitFor); string(u.Value) != "v1" || u.Revision != rev {
			t.Fatalf("got %+v, want v1 at %d", u, rev)
		}
		rev = mustPut(t, js, "r3", "spec", "v2")
		if u := next(t, ch, waitFor); u.Revision != rev {
			t.Fatalf("got %+v, want revision %d", u, rev)
		}
	})

	t.Run("keeps putting and watching after the bucket's leader is killed", func(t *testing.T) {
		leader := -1
		for i, s := range c.Servers {
			if s.NATS().JetStreamIsStreamLeader("$G", "KV_r3") {
				leader = i
			}
		}
		if leader < 0 {
			t.Fatal("no server leads the bucket's stream")
		}
		c.Stop(leader)
		testwait.Eventually(t, 30*time.Second, "put after the leader died", func() bool {
			r, err := Put(testCtx(t, time.Second), js, "r3", "spec", []byte("v3"), BucketConfig{Replicas: 3})
			rev = r
			return err == nil
		})
		u := next(t, ch, 30*time.Second)
		if string(u.Value) != "v3" || u.Revision != rev {
			t.Fatalf("got %+v, want v3 at %d", u, rev)
		}
		if _, err := Get(testCtx(t, waitFor), js, "r3", "spec"); err != nil {
			t.Fatalf("get after the leader died: %v", err)
		}
	})
}
