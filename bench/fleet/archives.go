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

// archiveServer serves archives from memory on loopback and counts requests (in total, per
// path and per node) and concurrent downloads.
type archiveServer struct {
	srv *http.Server
	url string

	inFlight atomic.Int64
	peak     atomic.Int64
	total    atomic.Int64

	mu     sync.Mutex
	files  map[string][]byte
	byPath map[string]int
	byNode map[string]map[string]int // node → path → requests
}

// newArchiveServer starts an archiveServer on 127.0.0.1.
func newArchiveServer() (*archiveServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &archiveServer{files: map[string][]byte{}, byPath: map[string]int{}, byNode: map[string]map[string]int{}}
	s.srv = &http.Server{Handler: s}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ServeHTTP serves one archive and counts it.
func (s *archiveServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	s.total.Add(1)
	node := strings.TrimPrefix(r.UserAgent(), userAgentPrefix)
	s.mu.Lock()
	s.byPath[r.URL.Path]++
	if s.byNode[node] == nil {
		s.byNode[node] = map[string]int{}
	}
	s.byNode[node][r.URL.Path]++
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

// counts is a snapshot of the counters.
type counts struct {
	Total  int64
	Peak   int64
	ByPath map[string]int
	ByNode map[string]map[string]int
}

// snapshot returns the counters so far.
func (s *archiveServer) snapshot() counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := counts{Total: s.total.Load(), Peak: s.peak.Load(), ByPath: map[string]int{}, ByNode: map[string]map[string]int{}}
	for k, v := range s.byPath {
		c.ByPath[k] = v
	}
	for n, m := range s.byNode {
		c.ByNode[n] = map[string]int{}
		for k, v := range m {
			c.ByNode[n][k] = v
		}
	}
	return c
}

// reset zeroes every counter, between the preparation and the measured phase.
func (s *archiveServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.Store(0)
	s.peak.Store(s.inFlight.Load())
	s.byPath = map[string]int{}
	s.byNode = map[string]map[string]int{}
}

// close stops the server.
func (s *archiveServer) close() { _ = s.srv.Close() }
