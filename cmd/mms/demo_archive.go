package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/mms-io/mms/demo"
	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

// demoArchives serves the demo's machine archives over loopback HTTP.
type demoArchives struct {
	srv   *httptest.Server // listens on 127.0.0.1
	mu    sync.Mutex
	files map[string][]byte // by URL path
}

func newDemoArchives() *demoArchives {
	a := &demoArchives{files: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		data, ok := a.files[r.URL.Path]
		a.mu.Unlock()
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(data)
	}))
	return a
}

func (a *demoArchives) close() { a.srv.Close() }

// archiveName is the file name of the example machine's archive at version v, both on disk
// and in its URL.
func archiveName(v string) string { return fmt.Sprintf("%s-%s.tar.gz", demoMachine, v) }

// url is where the archive of version v is served.
func (a *demoArchives) url(v string) string { return a.srv.URL + "/" + archiveName(v) }

// add serves data as the archive of version v.
func (a *demoArchives) add(v string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files["/"+archiveName(v)] = data
}

// buildArchives does what mms archive does for each version of the example machine: it
// writes the machine's directory, builds its archive into a file, and keeps its entry; the
// archive is then served where the entry says.
func (d *demoRun) buildArchives(context.Context) (string, error) {
	var last archive.BuildResult
	for _, v := range demo.Versions {
		src := d.sourceDir(v)
		if err := demo.WriteMachine(src, v); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		res, err := archive.Build(src, demoMachine, &buf)
		if err != nil {
			return "", err
		}
		if err := writeNewFile(d.archiveFile(v), buf.Bytes(), 0o644); err != nil {
			return "", err
		}
		d.archive.add(v, buf.Bytes())
		d.entries[v] = spec.Entry{Name: demoMachine, Source: d.archive.url(v), Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
		last = res
	}
	return fmt.Sprintf("served at %s, %d files each with SHA256SUMS; %s's sha256 %s…", d.archive.srv.URL, last.Files, demo.Versions[len(demo.Versions)-1], last.Checksum[:16]), nil
}
