package embednats

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster takes seconds to elect a leader")
	}
	c, err := StartCluster(3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()

	t.Run("lists every member's client URL", func(t *testing.T) {
		if got := strings.Count(c.ClientURLs(), ",") + 1; got != 3 {
			t.Fatalf("ClientURLs %q has %d URLs, want 3", c.ClientURLs(), got)
		}
	})

	t.Run("creates an R3 bucket that spans all members", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		js := connectJS(t, c.ClientURLs())
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "r3", Replicas: 3})
		if err != nil {
			t.Fatalf("create R3 bucket: %v", err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
			t.Fatalf("bucket has %d replicas, want 3", st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas)
		}
	})

	t.Run("drops a stopped member from the client URLs", func(t *testing.T) {
		c.Stop(2)
		if strings.Contains(c.ClientURLs(), c.Servers[2].ClientURL()) {
			t.Fatalf("stopped member still listed: %s", c.ClientURLs())
		}
	})
}
