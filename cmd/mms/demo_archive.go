package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// add serves data at path and returns its URL.
func (a *demoArchives) add(path string, data []byte) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = data
	return a.srv.URL + path
}

// buildArchives writes each version of the example machine, builds its archive as mms archive
// does, serves it, and keeps its entry.
func (d *demoRun) buildArchives(context.Context) (string, error) {
	d.archive = newDemoArchives()
	var last archive.BuildResult
	for _, v := range demo.Versions {
		src := filepath.Join(d.work, "source", v, demoMachine)
		if err := demo.WriteMachine(src, v); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		res, err := archive.Build(src, demoMachine, &buf)
		if err != nil {
			return "", err
		}
		url := d.archive.add(fmt.Sprintf("/%s-%s.tar.gz", demoMachine, v), buf.Bytes())
		d.entries[v] = spec.Entry{Name: demoMachine, Source: url, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}
		last = res
	}
	return fmt.Sprintf("%s (%d files each, SHA256SUMS included; last sha256 %s…)", d.archive.srv.URL, last.Files, last.Checksum[:16]), nil
}
