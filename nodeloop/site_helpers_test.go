package nodeloop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/internal/testarchive"
	"github.com/mms-io/mms/internal/testnats"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/objstore"
)

// The domains, buckets and streams of the site tests.
const (
	siteHubDomain     = "hub"
	siteDomain        = "site1"
	siteArchiveBucket = "ARCHIVES"
	siteArchiveStream = "OBJ_" + siteArchiveBucket // the stream of an Object Store bucket
	siteSpecStream    = "KV_" + bucket             // the stream of a Key-Value bucket
	siteArchiveLen    = 256 << 10                  // random bytes in the archive, so that it shows on the hub's byte count
	siteInterval      = 200 * time.Millisecond     // the site nodes' interval, so that repair is prompt
)

// site is a hub server (JetStream domain hub, a leaf node listener) holding the specification
// bucket and the archive bucket, and a site server (domain site1) connected to it as a leaf
// node, holding mirrors of both, in sync.
type site struct {
	t        *testing.T
	hub, srv *server.Server
	hubF     *fixture // publishes on the hub, with the key the site's nodes trust
	entry    spec.Entry
	archive  []byte // the archive entry names
	rev      uint64 // the hub's revision of the specification naming entry
	// mirrored is how many bytes the hub sent while the mirrors filled: the archive went over
	// the leaf link, so the meter sees an archive leave the hub.
	mirrored int64
}

// siteLayout says which mirrors newSite creates on the site, and whether the hub lets the
// site publish anything over the leaf link (openLeaf) rather than siteLeafPermissions.
type siteLayout struct{ archives, spec, openLeaf bool }

// The users of the hub: the publisher (anything) and the site, for its leaf node link.
const (
	sitePublisherUser, sitePublisherPassword = "publisher", "publisher-secret"
	siteUser, sitePassword                   = "site1", "site1-secret"
)

// siteLeafPermissions is what the hub lets the site publish over the leaf link: the requests
// its mirrors make to create their consumers in the hub's domain (the server sends
// $JS.hub.API.CONSUMER.CREATE.<stream>), their flow control replies, and answers to the hub's
// requests (inboxes: a publisher asking the site's JetStream, $JS.site1.API, whether its
// mirrors hold an archive; allow_responses does not do, as the site drops the answers).
// Nothing else: not the Object Store's subjects ($O.>), which the server does not deny a leaf
// node of another domain by itself (it denies $JS.API.>, $KV.> and $OBJ.>), nor other
// requests to the hub's JetStream.
func siteLeafPermissions() *server.Permissions {
	return &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{
		"$JS.hub.API.CONSUMER.CREATE." + siteArchiveStream,
		"$JS.hub.API.CONSUMER.CREATE." + siteSpecStream,
		"$JS.FC.>",
		"_INBOX.>",
	}}}
}

// newSite starts a hub and a site, publishes an archive of machine web and a signed
// specification naming it on the hub, creates the mirrors layout asks for on the site, and
// waits until they hold everything the hub holds.
func newSite(t *testing.T, layout siteLayout) *site {
	t.Helper()
	s := &site{t: t}
	// The site authenticates as a user of the hub's account, whose permissions say what it may
	// publish over the link: what its mirrors need, unless openLeaf.
	siteUsr := &server.User{Username: siteUser, Password: sitePassword, Permissions: siteLeafPermissions()}
	if layout.openLeaf {
		siteUsr.Permissions = nil
	}
	hubOpts := &server.Options{ServerName: "hub", JetStream: true, JetStreamDomain: siteHubDomain, StoreDir: t.TempDir(),
		Users:    []*server.User{{Username: sitePublisherUser, Password: sitePublisherPassword}, siteUsr},
		LeafNode: server.LeafNodeOpts{Host: "127.0.0.1", Port: -1}}
	s.hub = testnats.StartWith(t, hubOpts)
	leaf, err := url.Parse(fmt.Sprintf("nats-leaf://%s:%s@127.0.0.1:%d", siteUser, sitePassword, hubOpts.LeafNode.Port))
	if err != nil {
		t.Fatal(err)
	}
	s.srv = testnats.StartWith(t, &server.Options{ServerName: "site1", JetStream: true, JetStreamDomain: siteDomain, StoreDir: t.TempDir(),
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{leaf}}}}})
	s.waitLink(true)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hubNC, hubJS := testnats.Connect(t, strings.Replace(s.hub.ClientURL(), "://", "://"+sitePublisherUser+":"+sitePublisherPassword+"@", 1))
	s.hubF = &fixture{t: t, nc: hubNC, js: hubJS, pub: pub, priv: priv, ver: 1}
	s.entry, s.archive = s.publish("web", "v1")
	s.rev = s.hubF.put(nil, s.entry)

	_, siteJS := testnats.Connect(t, s.srv.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	before := s.hubOutBytes()
	if layout.archives {
		// what `nats stream add OBJ_ARCHIVES --mirror '{"name":"OBJ_ARCHIVES","external":{"api":"$JS.hub.API"}}' --defaults` makes
		_, err := siteJS.CreateStream(ctx, jetstream.StreamConfig{
			Name:        siteArchiveStream,
			Storage:     jetstream.FileStorage,
			AllowDirect: true,
			Mirror:      &jetstream.StreamSource{Name: siteArchiveStream, Domain: siteHubDomain},
		})
		if err != nil {
			t.Fatalf("the site's mirror of %s: %v", siteArchiveStream, err)
		}
		s.waitSynced(siteJS, siteArchiveStream)
	}
	if layout.spec {
		// what `nats kv add MACHINES --mirror MACHINES --mirror-domain hub --history 10` makes
		_, err := siteJS.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:  bucket,
			History: 10,
			Storage: jetstream.FileStorage,
			Mirror:  &jetstream.StreamSource{Name: bucket, Domain: siteHubDomain},
		})
		if err != nil {
			t.Fatalf("the site's mirror of %s: %v", bucket, err)
		}
		s.waitSynced(siteJS, siteSpecStream)
	}
	s.mirrored = s.hubOutBytes() - before
	return s
}

// publish publishes an archive of machine name to the hub's archive bucket, a file say.txt
// saying text and a file noise.bin of siteArchiveLen random bytes, and returns its entry.
func (s *site) publish(name, text string) (spec.Entry, []byte) {
	s.t.Helper()
	noise := make([]byte, siteArchiveLen)
	if _, err := rand.Read(noise); err != nil {
		s.t.Fatal(err)
	}
	body, res := testarchive.Machine(s.t, name, map[string]string{"say.txt": text, "noise.bin": hex.EncodeToString(noise)})
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	object := name + "-" + text + ".tgz"
	if _, err := objstore.Publish(ctx, s.hubF.js, siteArchiveBucket, object, bytes.NewReader(body), 1); err != nil {
		s.t.Fatal(err)
	}
	return spec.Entry{Name: name, Source: objstore.Ref{Bucket: siteArchiveBucket, Name: object}.String(),
		Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}, body
}

// writesBack tells whether a client of the site that publishes on a chunk subject of the
// archive bucket ($O.ARCHIVES.C.…) writes into the hub's bucket over the leaf link.
func (s *site) writesBack() bool {
	s.t.Helper()
	nc, _ := testnats.Connect(s.t, s.srv.ClientURL())
	subject := "$O." + siteArchiveBucket + ".C.FROMSITE"
	if err := nc.Publish(subject, []byte("written at the site")); err != nil {
		s.t.Fatal(err)
	}
	// A barrier: the answer of that client to a request from the hub leaves after the publish,
	// over the same connection and leaf link; the hub's own acknowledged publish into the
	// stream is stored after whatever the link delivered before it.
	if _, err := nc.Subscribe("site.barrier", func(m *nats.Msg) { _ = m.Respond(nil) }); err != nil {
		s.t.Fatal(err)
	}
	siteWaitUntil(s.t, "the barrier over the leaf link", func() (bool, error) {
		_, err := s.hubF.nc.Request("site.barrier", nil, time.Second)
		return err == nil, err
	})
	if _, err := s.hubF.js.Publish(s.ctx(), "$O."+siteArchiveBucket+".C.BARRIER", nil); err != nil {
		s.t.Fatal(err)
	}
	st, err := s.hubF.js.Stream(s.ctx(), siteArchiveStream)
	if err != nil {
		s.t.Fatal(err)
	}
	_, err = st.GetLastMsgForSubject(s.ctx(), subject)
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

// asksHub asks the hub's JetStream, from a client of the site, about the archive bucket's
// stream, then to delete it, and returns the answers.
func (s *site) asksHub() (infoErr, deleteErr error) {
	s.t.Helper()
	nc, _ := testnats.Connect(s.t, s.srv.ClientURL())
	js, err := jetstream.NewWithDomain(nc, siteHubDomain)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, infoErr = js.Stream(ctx, siteArchiveStream)
	return infoErr, js.DeleteStream(ctx, siteArchiveStream)
}

// siteFromHub is the site's JetStream reached from the hub, over the hub's connection, by the
// site's domain: what a publisher on the hub uses to check a site's mirrors.
func (s *site) siteFromHub() jetstream.JetStream {
	s.t.Helper()
	js, err := jetstream.NewWithDomain(s.hubF.nc, siteDomain)
	if err != nil {
		s.t.Fatal(err)
	}
	return js
}

// ctx is a context for one request of a test, ended with it.
func (s *site) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	s.t.Cleanup(cancel)
	return ctx
}

// waitLink waits until the leaf link between the hub and the site is up (or down).
func (s *site) waitLink(up bool) {
	s.t.Helper()
	want := 0
	if up {
		want = 1
	}
	siteWaitUntil(s.t, fmt.Sprintf("the leaf link up=%v", up), func() (bool, error) {
		ok := s.srv.NumLeafNodes() == want
		if up && ok {
			ok = s.hub.NumLeafNodes() == 1
		}
		return ok, nil
	})
}

// waitSynced waits until the site's stream name holds up to the hub's last sequence of the
// stream of that name.
func (s *site) waitSynced(siteJS jetstream.JetStream, name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	hs, err := s.hubF.js.Stream(ctx, name)
	if err != nil {
		s.t.Fatal(err)
	}
	want := hs.CachedInfo().State.LastSeq
	siteWaitUntil(s.t, "the site's "+name+" to reach sequence "+fmt.Sprint(want), func() (bool, error) {
		st, err := siteJS.Stream(ctx, name)
		if err != nil {
			return false, err
		}
		return st.CachedInfo().State.LastSeq >= want, nil
	})
}

// hubOutBytes is how many bytes the hub has sent to anyone: its clients and the leaf link.
func (s *site) hubOutBytes() int64 {
	s.t.Helper()
	vz, err := s.hub.Varz(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return vz.OutBytes
}

// node starts a loop of the site over dir, with its own connection to the site server only
// and its JetStream in the site's domain, reading obj:// archives over that connection, its
// archive cache off (so that a repair fetches the archive again), no splay, and an interval
// of siteInterval.
func (s *site) node(dir string) *observed {
	s.t.Helper()
	nc, js := testnats.Connect(s.t, s.srv.ClientURL())
	f := &fixture{t: s.t, nc: nc, js: js, pub: s.hubF.pub, priv: s.hubF.priv}
	return f.start(dir, siteInterval, func(l *Loop) {
		DefaultSettings().Apply(&l.Config)
		l.Config.CacheMaxBytes, l.Config.Splay = 0, 0
		if err := UseObjectStore(&l.Config, js, ""); err != nil {
			s.t.Fatal(err)
		}
	})
}

// siteResult returns the last result for name with action among outcomes (of any trigger).
func siteResult(outcomes []Outcome, name string, action machines.Action) (Outcome, machines.Result, bool) {
	for i := len(outcomes) - 1; i >= 0; i-- {
		if outcomes[i].Report == nil {
			continue
		}
		for _, r := range outcomes[i].Report.Results {
			if r.Name == name && r.Action == action {
				return outcomes[i], r, true
			}
		}
	}
	return Outcome{}, machines.Result{}, false
}

// siteWaitUntil polls cond until it holds, failing t after waitLong with cond's last error.
func siteWaitUntil(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
