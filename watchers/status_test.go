package watchers

import (
	"context"
	"testing"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/internal/testwait"
)

// TestFleetStatusPublished: the watcher reports its node's status over the machine's own
// JetStream connection, as mms agent does.
func TestFleetStatusPublished(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := fleet.EnsureBucket(ctx, b.js, fleet.BucketConfig(fleet.DefaultBucket, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	s := newSpecs(t)
	nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())
	rev := b.put(t, s.envelope(s.priv, s.entry("web", "1")))
	waitVersion(t, nd.dir, "web", "1")

	var mine fleet.Status
	testwait.Eventually(t, waitFor, "the node's status on the installed revision", func() bool {
		statuses, _, err := fleet.Read(ctx, b.js, fleet.DefaultBucket)
		if err != nil || len(statuses) != 1 {
			return false
		}
		mine = statuses[0]
		return mine.Spec != nil && mine.Spec.Revision == rev
	})
	if mine.Identity != testIdentity || mine.Host != "choria" || mine.Outcome != fleet.OutcomeConverged ||
		len(mine.Machines) != 1 || mine.Machines[0].Name != "web" || !mine.Machines[0].Verified || mine.Machines[0].Checksum == "" {
		t.Fatalf("status %+v", mine)
	}
}
