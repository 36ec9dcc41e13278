package fleet

import (
	"context"
	"encoding/json"
	"testing"
	"time"

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
	inbox := &server.SubjectPermission{Allow: []string{"_INBOX.>"}}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{
			{Username: "web1", Password: "n", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{"$KV." + DefaultBucket + ".web1.example.net"}}, Subscribe: inbox}},
			{Username: "ops", Password: "o"}, // the operator creates the bucket and reads it
		}}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	connect := func(user, pass string) jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pass), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
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
	ops, node := connect("ops", "o"), connect("web1", "n")
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
}
