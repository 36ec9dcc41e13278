package fleet

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/internal/testwait"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNodePermissions runs a real server with the permissions the README gives a node (its own
// status key, and inboxes) and an operator, and checks that a node publishes its status with
// them, cannot write another node's key, and cannot read the bucket; the operator reads it.
func TestNodePermissions(t *testing.T) {
	// The node's inboxes are its own (mms agent --inbox-prefix _INBOX_web1): it cannot
	// subscribe to the operator's, where the operator's reads of the bucket arrive.
	inbox := &server.SubjectPermission{Allow: []string{"_INBOX_web1.>"}}
	srv := testnats.StartWith(t, &server.Options{JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{
			{Username: "web1", Password: "n", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{"$KV." + DefaultBucket + ".web1.example.net"}}, Subscribe: inbox}},
			{Username: "ops", Password: "o"}, // the operator creates the bucket and reads it
		}})
	connect := func(user, pass string, opts ...nats.Option) jetstream.JetStream {
		opts = append(opts, nats.UserInfo(user, pass), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		nc, err := nats.Connect(srv.ClientURL(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	ops, node := connect("ops", "o"), connect("web1", "n", nats.CustomInboxPrefix("_INBOX_web1"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := EnsureBucket(ctx, ops, BucketConfig(DefaultBucket, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}

	r := &Reporter{Identity: "web1.example.net", Host: "mms agent", Heartbeat: time.Hour}
	p := NewPublisher(DefaultBucket, r, nil)
	go p.Run(ctx, node)
	p.Observe(nodeloop.Outcome{Missing: true})
	testwait.Eventually(t, 10*time.Second, "the node's status, read by the operator", func() bool {
		got, _, err := Read(ctx, ops, DefaultBucket)
		return err == nil && len(got) == 1 && got[0].Identity == "web1.example.net"
	})

	data, _ := json.Marshal(r.Status(time.Now()))
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if _, err := node.Publish(pctx, "$KV."+DefaultBucket+".db1.example.net", data); err == nil {
		t.Error("the node wrote another node's key")
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	if _, _, err := Read(rctx, node, DefaultBucket); err == nil {
		t.Error("the node read the status bucket")
	}
	// Nor can it listen where the operator's reads arrive.
	spy, err := nats.Connect(srv.ClientURL(), nats.UserInfo("web1", "n"))
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	denied := make(chan error, 1)
	spy.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { denied <- err })
	if _, err := spy.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	spy.Flush()
	select {
	case err := <-denied:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("subscribing to the operator's inboxes: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the node subscribed to every inbox")
	}
}
