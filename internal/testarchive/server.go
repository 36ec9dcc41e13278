package testarchive

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Server serves archives over loopback HTTP and counts the requests for each path.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	files    map[string][]byte
	requests map[string]int
	total    atomic.Int64
}

// NewServer starts a Server on loopback; it is closed when the test ends. A path that was
// never Put answers 404.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{files: map[string][]byte{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	s.mu.Lock()
	s.requests[r.URL.Path]++
	body, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(body)
}

// Put serves body at path (which starts with "/") from now on and returns its URL.
func (s *Server) Put(path string, body []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
	return s.URL + path
}

// Count returns how many requests path has had.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// Total returns how many requests the server has had, for any path.
func (s *Server) Total() int64 {
	return s.total.Load()
}

// Hanging starts a server that answers nothing until the test ends, and returns the URL of an
// archive on it and a channel that receives when a download of it starts: a source that hangs.
func Hanging(t testing.TB) (url string, asked <-chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	ch := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL + "/hangs.tgz", ch
}
