package machines

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestProgress: Config.Progress hears how each download goes, ends with one Done report of
// the whole archive, and a download whose first attempt is cut off mid-body still rewinds,
// retries and installs through the counting writer.
func TestProgress(t *testing.T) {
	f := newFixture(t)
	e := f.entry("web", "1", map[string]string{"big.bin": string(make([]byte, 256<<10))})
	body, _ := machineArchive(t, "web", map[string]string{"big.bin": string(make([]byte, 256<<10))})
	var attempts atomic.Int32
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if attempts.Add(1) == 1 {
			w.Write(body[:len(body)/2])
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
			return
		}
		w.Write(body)
	}))
	t.Cleanup(cut.Close)
	e.Source = cut.URL + "/web.tgz"

	var mu sync.Mutex
	var seen []Progress
	cfg := f.config()
	cfg.Fetch.RetryBase = 1
	cfg.Progress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, p)
	}
	rep := Reconcile(t.Context(), cfg, f.envelope(nil, e))
	if r := result(t, rep, "web"); r.Failed() || r.Action != ActionInstall {
		t.Fatalf("install through the progress writer: %+v", r)
	}
	if attempts.Load() != 2 {
		t.Fatalf("%d attempts, want the cut one and a retry", attempts.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no progress reported")
	}
	last := seen[len(seen)-1]
	if !last.Done || last.Name != "web" || last.Bytes != int64(len(body)) || last.Total != int64(len(body)) {
		t.Errorf("the last report %+v, want Done with all %d bytes of %d", last, len(body), len(body))
	}
	for _, p := range seen[:len(seen)-1] {
		if p.Done || p.Bytes > p.Total {
			t.Errorf("a report before the end: %+v", p)
		}
	}
}
