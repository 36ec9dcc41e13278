package archive

import (
	"fmt"
	"math"

	"github.com/mms-io/mms/machines/errs"
)

// Limit names, as used in *errs.LimitError and as the watcher's properties.
const (
	// LimitMaxUnpackedBytes names the limit on the total size of the files an archive unpacks to.
	LimitMaxUnpackedBytes = "max_unpacked_bytes"
	// LimitMaxFiles names the limit on the number of files and directories an archive creates.
	LimitMaxFiles = "max_files"
	// LimitMaxPathLength names the limit on the length of a member's name, in bytes.
	LimitMaxPathLength = "max_path_length"
)

// Default limits, generous for a machine (a few scripts and a machine.yaml) yet small enough
// that a hostile archive cannot fill a node's disk or inode table.
const (
	// DefaultMaxUnpackedBytes is 1 GiB.
	DefaultMaxUnpackedBytes = 1 << 30
	// DefaultMaxFiles is 10,000 files and directories.
	DefaultMaxFiles = 10_000
	// DefaultMaxPathLength is 1024 bytes of a member's name.
	DefaultMaxPathLength = 1024
)

// Budget for the decompressed tar stream beyond file contents: headers, PAX records, padding
// and the end-of-archive blocks. Past it the stream is cut, so that an archive of nothing but
// metadata or trailing zeros cannot keep the extractor busy forever.
const (
	// headerBudgetPerEntry is the stream allowed per permitted entry: a 512-byte header, PAX
	// records for a long name and up to 511 bytes of padding fit comfortably in 8 KiB.
	headerBudgetPerEntry = 8 << 10
	// headerBudgetFixed covers one PAX record block of the largest size archive/tar reads (1 MiB)
	// and the record padding GNU tar writes at the end.
	headerBudgetFixed = 2 << 20
)

// Limits bound what one archive may unpack to. Zero never means unlimited: every field must be
// positive.
type Limits struct {
	// MaxUnpackedBytes is the most bytes of file content an archive may unpack to.
	MaxUnpackedBytes int64
	// MaxFiles is the most files and directories an archive may create.
	MaxFiles int
	// MaxPathLength is the longest member name, in bytes, as written in the archive.
	MaxPathLength int
}

// DefaultLimits returns the safe defaults: 1 GiB, 10,000 files and directories, 1024-byte names.
func DefaultLimits() Limits {
	return Limits{
		MaxUnpackedBytes: DefaultMaxUnpackedBytes,
		MaxFiles:         DefaultMaxFiles,
		MaxPathLength:    DefaultMaxPathLength,
	}
}

// check refuses a non-positive limit, naming it.
func (l Limits) check() error {
	for _, c := range []struct {
		name string
		v    int64
	}{
		{LimitMaxUnpackedBytes, l.MaxUnpackedBytes},
		{LimitMaxFiles, int64(l.MaxFiles)},
		{LimitMaxPathLength, int64(l.MaxPathLength)},
	} {
		if c.v <= 0 {
			return fmt.Errorf("%w: %s must be positive, got %d", errs.ErrLimit, c.name, c.v)
		}
	}
	return nil
}

// streamBudget is the most decompressed bytes Extract reads from the gzip stream.
func (l Limits) streamBudget() int64 {
	extra := int64(l.MaxFiles+2)*headerBudgetPerEntry + headerBudgetFixed
	if l.MaxUnpackedBytes > math.MaxInt64-extra {
		return math.MaxInt64
	}
	return l.MaxUnpackedBytes + extra
}
