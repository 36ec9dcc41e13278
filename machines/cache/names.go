package cache

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mms-io/mms/machines/sums"
)

// ErrInvalidChecksum means a checksum given to the cache is not 64 hex characters (a sha256).
var ErrInvalidChecksum = errors.New("invalid archive checksum")

const (
	// archiveExt ends the name of every archive in the cache: <sha256>.tgz.
	archiveExt = ".tgz"
	// tempPrefix starts the name of a file Keep has not finished; Open removes them.
	tempPrefix = ".tmp-"
	// sha256HexLen is the length of a hex sha256.
	sha256HexLen = 64
)

// nameKind is what a file name in the cache directory is.
type nameKind int

const (
	// foreignName is a name the cache never writes: left alone, never opened, never counted.
	foreignName nameKind = iota
	// archiveName is <sha256>.tgz, in lowercase as the cache writes it.
	archiveName
	// tempName is a file Keep did not finish.
	tempName
)

// normalize checks that sum is 64 hex characters, in either case as a specification may give
// it, and returns it in lowercase, the form files are named by.
func normalize(sum string) (string, error) {
	if len(sum) != sha256HexLen {
		return "", fmt.Errorf("%w: %q is %d characters, not %d", ErrInvalidChecksum, sum, len(sum), sha256HexLen)
	}
	lower := strings.ToLower(sum)
	if !sums.IsHex256(lower) {
		return "", fmt.Errorf("%w: %q is not hex", ErrInvalidChecksum, sum)
	}
	return lower, nil
}

// fileName is the name of the archive whose normalized checksum is sum.
func fileName(sum string) string { return sum + archiveExt }

// parseName tells what name, a directory entry of the cache, is; for an archive, it also
// returns its checksum. Only the exact form fileName writes is an archive.
func parseName(name string) (string, nameKind) {
	if strings.HasPrefix(name, tempPrefix) {
		return "", tempName
	}
	sum, ok := strings.CutSuffix(name, archiveExt)
	if !ok || len(sum) != sha256HexLen {
		return "", foreignName
	}
	for i := 0; i < len(sum); i++ {
		c := sum[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", foreignName
		}
	}
	return sum, archiveName
}
