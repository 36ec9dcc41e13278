package nodeloop

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/objstore"
)

// A site (docs/sites.md) is a leaf node server with its own JetStream domain that mirrors the
// hub's specification bucket and archive bucket; the nodes of the site connect to it only.
func TestSite(t *testing.T) {
	t.Run("the site's mirrors fill over the leaf link", func(t *testing.T) {
		s := newSite(t, siteLayout{archives: true, spec: true})
		t.Logf("the hub sent %d bytes while the mirrors filled; the archive has %d", s.mirrored, len(s.archive))
		if s.mirrored < int64(len(s.archive)) {
			t.Fatalf("the hub sent %d bytes while the mirrors filled, less than the %d-byte archive", s.mirrored, len(s.archive))
		}
	})

	t.Run("a publisher on the hub checks the site's mirror of the archive through the site's domain", func(t *testing.T) {
		s := newSite(t, siteLayout{archives: true, spec: true})
		info, err := objstore.Check(s.ctx(), s.siteFromHub(), s.entry.Source, s.entry.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != uint64(len(s.archive)) {
			t.Fatalf("the site's mirror holds %d bytes, the archive has %d", info.Size, len(s.archive))
		}
		e, err := kvspec.Get(s.ctx(), s.siteFromHub(), bucket, key)
		if err != nil || e.Revision != s.rev {
			t.Fatalf("the site's mirror of the specification: revision %d, %v; the hub's is %d", e.Revision, err, s.rev)
		}
	})

	t.Run("a site may not write into the hub's archive bucket nor ask the hub's JetStream more than its mirrors need", func(t *testing.T) {
		open := newSite(t, siteLayout{openLeaf: true})
		if !open.writesBack() {
			t.Fatal("with an open leaf link, a publish at the site on $O.ARCHIVES.C.… was not stored in the hub's bucket: the control proves nothing")
		}
		if infoErr, _ := open.asksHub(); infoErr != nil {
			t.Fatalf("with an open leaf link, the site could not ask the hub's JetStream: %v: the control proves nothing", infoErr)
		}
		s := newSite(t, siteLayout{archives: true, spec: true})
		if s.writesBack() {
			t.Fatal("a publish at the site on $O.ARCHIVES.C.… was stored in the hub's bucket")
		}
		infoErr, deleteErr := s.asksHub()
		t.Logf("the site asking the hub: %v; %v", infoErr, deleteErr)
		if infoErr == nil || deleteErr == nil {
			t.Fatalf("the site asked the hub's JetStream: info %v, delete %v", infoErr, deleteErr)
		}
		if _, err := s.hubF.js.Stream(s.ctx(), siteArchiveStream); err != nil {
			t.Fatalf("the hub's %s: %v", siteArchiveStream, err)
		}
	})

	t.Run("a node of the site installs from the site's mirrors, not over the hub link", func(t *testing.T) {
		s := newSite(t, siteLayout{archives: true, spec: true})
		before := s.hubOutBytes()
		dir := t.TempDir()
		obs := s.node(dir)
		o := s.waitInstalled(obs, "web")
		sent := s.hubOutBytes() - before
		t.Logf("the hub sent %d bytes during the install of the %d-byte archive", sent, len(s.archive))
		if sent >= int64(len(s.archive))/4 {
			t.Fatalf("the hub sent %d bytes during the install of a %d-byte archive", sent, len(s.archive))
		}
		if o.Revision != s.rev {
			t.Fatalf("installed revision %d of the site's mirror, the hub's is %d", o.Revision, s.rev)
		}
		s.checkFile(dir, "v1")
	})

	t.Run("without the archive mirror, a node of the site is refused the bucket: the hub's is out of its domain", func(t *testing.T) {
		s := newSite(t, siteLayout{spec: true})
		obs := s.node(t.TempDir())
		obs.wait(t, "the refusal of web", func(o []Outcome, _ []string) bool {
			_, _, ok := siteResult(o, "web", machines.ActionInstall)
			return ok
		})
		_, r, _ := siteResult(obs.snapshot(), "web", machines.ActionInstall)
		t.Logf("web: %s", r.Reason)
		if !errors.Is(r.Err, objstore.ErrNoBucket) || !errors.Is(r.Err, errs.ErrFetch) {
			t.Fatalf("web: %+v", r)
		}
		if _, err := objstore.Check(s.ctx(), s.siteFromHub(), s.entry.Source, s.entry.Checksum); !errors.Is(err, objstore.ErrNoBucket) {
			t.Fatalf("a publisher's check of the site: %v", err)
		}
	})

	t.Run("with the hub down, a new node installs from the site's mirrors and a node repairs from them", func(t *testing.T) {
		s := newSite(t, siteLayout{archives: true, spec: true})
		first := t.TempDir()
		obs1 := s.node(first)
		s.waitInstalled(obs1, "web")

		s.hub.Shutdown()
		s.waitLink(false)

		second := t.TempDir()
		o := s.waitInstalled(s.node(second), "web")
		if o.Revision != s.rev {
			t.Fatalf("the second node installed revision %d, the hub's is %d", o.Revision, s.rev)
		}
		s.checkFile(second, "v1")

		if err := os.WriteFile(filepath.Join(first, "web", "say.txt"), []byte("tampered"), 0o644); err != nil {
			t.Fatal(err)
		}
		obs1.wait(t, "the repair of web", func(o []Outcome, _ []string) bool {
			out, r, ok := siteResult(o, "web", machines.ActionRepair)
			return ok && out.Has(TriggerInterval) && !r.Failed()
		})
		_, r, _ := siteResult(obs1.snapshot(), "web", machines.ActionRepair)
		if r.Checksum != s.entry.Checksum {
			t.Fatalf("repaired with checksum %s, the spec says %s", r.Checksum, s.entry.Checksum)
		}
		s.checkFile(first, "v1")
	})
}

// waitInstalled waits until obs reports name installed without failure and returns that
// reconcile, after checking that it installed the entry's checksum.
func (s *site) waitInstalled(obs *observed, name string) Outcome {
	s.t.Helper()
	obs.wait(s.t, "the install of "+name, func(o []Outcome, _ []string) bool {
		_, r, ok := siteResult(o, name, machines.ActionInstall)
		return ok && !r.Failed()
	})
	o, r, _ := siteResult(obs.snapshot(), name, machines.ActionInstall)
	if r.Checksum != s.entry.Checksum || !o.Accepted() || !o.Report.Signed {
		s.t.Fatalf("install of %s: %+v (signed %v, accepted %v), want checksum %s", name, r, o.Report.Signed, o.Accepted(), s.entry.Checksum)
	}
	return o
}

// checkFile checks that the machine web under dir says text, and holds the archive's noise.
func (s *site) checkFile(dir, text string) {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "web", "say.txt"))
	if err != nil || string(b) != text {
		s.t.Fatalf("web/say.txt: %q, %v, want %q", b, err, text)
	}
	fi, err := os.Stat(filepath.Join(dir, "web", "noise.bin"))
	if err != nil || fi.Size() != 2*siteArchiveLen {
		s.t.Fatalf("web/noise.bin: %v, %v", fi, err)
	}
}
