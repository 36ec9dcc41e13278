package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchArchive builds a tar.gz of files of size bytes each, of text that compresses about 2:1.
func benchArchive(b *testing.B, files, size int) []byte {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnop \n"
	body := make([]byte, size)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "web/", Mode: 0o755})
	for i := 0; i < files; i++ {
		if i%100 == 0 {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("web/d%02d/", i/100), Mode: 0o755})
		}
		for j := range body {
			body[j] = alphabet[rng.IntN(len(alphabet))]
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("web/d%02d/f%04d", i/100, i), Mode: 0o644, Size: int64(size)})
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// BenchmarkExtract unpacks archives of 200 files totalling 10 MiB and 100 MiB, and of 2,000
// files totalling 100 MiB (without fsync: install.Commit makes the staged tree durable).
// MB/s is unpacked bytes per second. B/op, everything Extract allocates in one run and so a bound
// on its peak memory, stays under 1 MiB for both 10 MiB and 100 MiB of 200 files: memory grows
// with the file count (one stamp per file is returned) but not with the bytes.
func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct{ files, total int }{{200, 10 << 20}, {200, 100 << 20}, {2000, 100 << 20}} {
		name := fmt.Sprintf("%dMiB-%dfiles", c.total>>20, c.files)
		b.Run(name, func(b *testing.B) {
			data := benchArchive(b, c.files, c.total/c.files)
			dir := b.TempDir()
			b.SetBytes(int64(c.total))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Extract(bytes.NewReader(data), dir, "web", DefaultLimits()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(filepath.Join(dir, "web")); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(c.total)*float64(b.N)/b.Elapsed().Seconds()/1e6, "unpacked-MB/s")
			b.ReportMetric(float64(len(data))/(1<<20), "archive-MiB")
		})
	}
}
