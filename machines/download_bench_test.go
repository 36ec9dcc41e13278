package machines

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkInstall is a fresh install of one machine of 200 files, 16 MiB (half random, half
// text), from a loopback server: download, unpack, verify, fsync and swap. MB/s is of the
// machine's content.
func BenchmarkInstall(b *testing.B) {
	f := newFixture(b)
	files := map[string]string{}
	rng := rand.NewChaCha8([32]byte{'m', 'm', 's'})
	const n, total = 200, 16 << 20
	for i := range n {
		if i%2 == 0 {
			body := make([]byte, total/n)
			rng.Read(body)
			files[fmt.Sprintf("d%d/f%03d.bin", i%10, i)] = string(body)
		} else {
			text := make([]byte, 0, total/n)
			for len(text) < total/n {
				text = fmt.Appendf(text, "line %d of file %d: machine watcher state transition\n", len(text), i)
			}
			files[fmt.Sprintf("d%d/f%03d.txt", i%10, i)] = string(text[:total/n])
		}
	}
	env := f.envelope(nil, f.entry("web", "1", files))
	b.SetBytes(total)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cfg := f.config()
		cfg.Dir = filepath.Join(f.dir, fmt.Sprint(i))
		if err := os.Mkdir(cfg.Dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if rep := Reconcile(context.Background(), cfg, env); rep.Failed() || !rep.Changed() {
			b.Fatalf("%+v", rep)
		}
	}
}
