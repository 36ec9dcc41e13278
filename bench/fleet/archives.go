package main

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// userAgentPrefix starts the User-Agent each simulated node sends, followed by its index, so
// that the archive server can tell the nodes apart.
const userAgentPrefix = "mms-fleet/"

// tally counts downloads, in total, per path and per node, and the peak of concurrent ones:
// the HTTP archive server's requests, or the nodes' reads from the Object Store.
type tally struct {
	inFlight atomic.Int64
	peak     atomic.Int64
	total    atomic.Int64

	mu     sync.Mutex
	byPath map[string]int
	byNode map[string]map[string]int // node → path → requests
}

func newTally() *tally {
	return &tally{byPath: map[string]int{}, byNode: map[string]map[string]int{}}
}

// enter records one more download in flight; leave, when it ends.
func (t *tally) enter() (leave func()) {
	n := t.inFlight.Add(1)
	for {
		p := t.peak.Load()
		if n <= p || t.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { t.inFlight.Add(-1) }
}

// count records n requests by node for path.
func (t *tally) count(node, path string, n int) {
	t.total.Add(int64(n))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byPath[path] += n
	if t.byNode[node] == nil {
		t.byNode[node] = map[string]int{}
	}
	t.byNode[node][path] += n
}

// counts is a snapshot of the counters.
type counts struct {
	Total  int64
	Peak   int64
	ByPath map[string]int
	ByNode map[string]map[string]int
}

// snapshot returns the counters so far.
func (t *tally) snapshot() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := counts{Total: t.total.Load(), Peak: t.peak.Load(), ByPath: map[string]int{}, ByNode: map[string]map[string]int{}}
	for k, v := range t.byPath {
		c.ByPath[k] = v
	}
	for n, m := range t.byNode {
		c.ByNode[n] = map[string]int{}
		for k, v := range m {
			c.ByNode[n][k] = v
		}
	}
	return c
}

// reset zeroes every counter, between the preparation and the measured phase.
func (t *tally) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total.Store(0)
	t.peak.Store(t.inFlight.Load())
	t.byPath = map[string]int{}
	t.byNode = map[string]map[string]int{}
}

// archiveServer serves archives from memory on loopback and counts requests (in total, per
// path and per node) and concurrent downloads.
type archiveServer struct {
	*tally
	srv *http.Server
	url string

	mu    sync.Mutex
	files map[string][]byte
}

// newArchiveServer starts an archiveServer on 127.0.0.1.
func newArchiveServer() (*archiveServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &archiveServer{tally: newTally(), files: map[string][]byte{}}
	s.srv = &http.Server{Handler: s}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ServeHTTP serves one archive and counts it.
func (s *archiveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.enter()()
	s.count(strings.TrimPrefix(r.UserAgent(), userAgentPrefix), r.URL.Path, 1)
	s.mu.Lock()
	body, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(body)
}

// put serves body at path from now on and returns its URL.
func (s *archiveServer) put(path string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
	return s.url + path
}

// close stops the server.
func (s *archiveServer) close() { _ = s.srv.Close() }
