package install

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCommit measures Commit of a 20-file machine over an installed one (fsync of the
// tree, intent, exchange, record, deletion of the old version); staging is not timed.
func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("20 files of %d KiB", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			s := openStore(b, dir)
			content := make([]byte, size)
			k := 0
			stageOne := func() *Staging {
				k++
				st, err := s.Stage("web")
				if err != nil {
					b.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(st.Path(), "lib"), 0o755); err != nil {
					b.Fatal(err)
				}
				for i := range 20 {
					copy(content, fmt.Sprintf("v%d file %d", k, i))
					if err := os.WriteFile(filepath.Join(st.Path(), "lib", fmt.Sprintf("f%02d", i)), content, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				return st
			}
			if err := s.Commit(stageOne(), Managed{Checksum: "first"}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(20 * size))
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				st := stageOne()
				b.StartTimer()
				if err := s.Commit(st, Managed{Checksum: "next"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
