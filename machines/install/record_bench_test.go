package install

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mms-io/mms/machines/sums"
)

// BenchmarkDecodeRecord reads the record of 100 managed machines of 20 files each, as every
// reconcile does.
func BenchmarkDecodeRecord(b *testing.B) {
	rec := Record{Machines: map[string]Managed{}, Pending: map[string]Intent{}}
	for i := range 100 {
		name := fmt.Sprintf("m%03d", i)
		files := sums.Cache{}
		for j := range 20 {
			files[fmt.Sprintf("dir/f%02d.txt", j)] = sums.Stamp{Size: 1234, ModNs: time.Now().UnixNano(), ChangeNs: time.Now().UnixNano(), Inode: uint64(i*100 + j), SHA256: strings.Repeat("ab", 32)}
		}
		rec.Machines[name] = Managed{Name: name, Checksum: strings.Repeat("cd", 32), VerifyChecksum: strings.Repeat("ef", 32), Source: "https://example.net/" + name + ".tgz", InstalledAt: time.Now(), Files: files}
	}
	data, err := rec.Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}
