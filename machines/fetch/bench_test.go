package fetch

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
)

// BenchmarkFetch downloads a 64 MiB body from a loopback server, hashing and verifying it;
// the MB/s column is the throughput.
func BenchmarkFetch(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	want := sum(body)
	srv, _ := server(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	f := newFetcher(b)
	b.Run("into io.Discard", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := f.Fetch(context.Background(), Source{URL: srv.URL}, want, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("into a file", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			path := dir + "/a" + strconv.Itoa(i) + ".tgz"
			if _, err := f.FetchToFile(context.Background(), Source{URL: srv.URL}, want, path); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = os.Remove(path)
			b.StartTimer()
		}
	})
}
