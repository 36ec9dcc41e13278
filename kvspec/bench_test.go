package kvspec

import (
	"context"
	"testing"
)

// BenchmarkPutToUpdate measures one Put and its delivery through a Watcher on a local server.
func BenchmarkPutToUpdate(b *testing.B) {
	srv := startServerB(b)
	_, js := connectB(b, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Put(ctx, js, "bench", "spec", []byte("v0"), BucketConfig{}); err != nil {
		b.Fatal(err)
	}
	ch := NewWatcher(js, "bench", "spec", WatchOptions{}).Run(ctx)
	<-ch
	value := make([]byte, 64<<10) // a 64 KiB specification
	b.SetBytes(int64(len(value)))
	b.ResetTimer()
	for range b.N {
		rev, err := Put(ctx, js, "bench", "spec", value, BucketConfig{})
		if err != nil {
			b.Fatal(err)
		}
		for u := range ch {
			if u.Revision == rev {
				break
			}
		}
	}
}
