package watchers

import (
	"bytes"
	"context"
	"testing"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

func TestObjectStoreSource(t *testing.T) {
	t.Run("installs an obj:// archive over the machine's own JetStream connection", func(t *testing.T) {
		b := startBroker(t)
		s := newSpecs(t)
		nd := startNode(t, "kv", choriaConnection(t, b.srv.ClientURL()), s.publicKey())

		body, res := testarchive.Machine(t, "web", map[string]string{"version.txt": "1"})
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if _, err := objstore.Publish(ctx, b.js, "ARCHIVES", "web-1.tgz", bytes.NewReader(body), 1); err != nil {
			t.Fatal(err)
		}
		entry := spec.Entry{Name: "web", Source: "obj://ARCHIVES/web-1.tgz", Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
		b.put(t, s.envelope(s.priv, entry))
		waitVersion(t, nd.dir, "web", "1")
		st, _ := nd.n.waitState(t, 0, "that installed web", func(st *StateNotification) bool { return st.Outcome == SummaryChanged })
		if len(st.Outcomes) != 1 || st.Outcomes[0].Action != "install" {
			t.Fatalf("machines %+v", st.Outcomes)
		}
	})
}
