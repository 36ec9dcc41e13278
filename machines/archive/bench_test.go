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

// BenchmarkExtract unpacks archives of 10 MiB / 200 files and 100 MiB / 2,000 files (50 KiB
// each), fsyncs included. MB/s is unpacked bytes per second; B/op staying flat from the small
// archive to the large one shows memory does not grow with the archive.
func BenchmarkExtract(b *testing.B) {
	for _, c := range []struct{ files, size int }{{200, 50 << 10}, {2000, 50 << 10}} {
		unpacked := int64(c.files * c.size)
		b.Run(fmt.Sprintf("%dMiB-%dfiles", unpacked>>20, c.files), func(b *testing.B) {
			data := benchArchive(b, c.files, c.size)
			dir := b.TempDir()
			b.SetBytes(unpacked)
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
			b.ReportMetric(float64(unpacked)*float64(b.N)/b.Elapsed().Seconds()/1e6, "unpacked-MB/s")
			b.ReportMetric(float64(len(data))/(1<<20), "archive-MiB")
		})
	}
}
