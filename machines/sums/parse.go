package sums

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/mms-io/mms/machines/errs"
)

// FileName is the name of the checksums file at the top of every machine directory.
const FileName = "SHA256SUMS"

// Entry is one line of a SHA256SUMS file.
type Entry struct {
	// Path is the file's slash-separated path relative to the machine directory, cleaned and
	// without a leading "./".
	Path string
	// SHA256 is the file's expected sha256, 64 lower-case hex characters.
	SHA256 string
}

// Sums is a parsed SHA256SUMS file: its entries in the order of the file's lines. Paths are
// unique, local and clean.
type Sums []Entry

// Parse reads the output of `sha256sum` (GNU coreutils): one `<64 hex>  <path>` line per file,
// or `<64 hex> *<path>` for the binary marker. Blank lines and a trailing carriage return are
// tolerated, hex may be upper case (it is lowered) and a leading "./" is removed. Parse refuses,
// naming the line, malformed hex, a missing separator, an absolute path, a path with a ".."
// element or one that is not clean (`a//b`, `a/./b`), a duplicate path, and backslash-escaped
// lines (coreutils writes those for names holding a backslash or newline, which mms never
// ships). Every refusal wraps errs.ErrUnsafeArchive.
func Parse(data []byte) (Sums, error) {
	lines := bytes.Count(data, []byte("\n")) + 1
	out := make(Sums, 0, lines)
	seen := make(map[string]int, lines)

	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}

		e, err := parseLine(string(line))
		if err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %s", errs.ErrUnsafeArchive, FileName, n, err)
		}
		if first, dup := seen[e.Path]; dup {
			return nil, fmt.Errorf("%w: %s line %d: duplicate path %q (first on line %d)", errs.ErrUnsafeArchive, FileName, n, e.Path, first)
		}
		seen[e.Path] = n
		out = append(out, e)
	}

	return out, nil
}

// parseLine parses one non-blank line; its error text is completed by Parse.
func parseLine(line string) (Entry, error) {
	if strings.HasPrefix(line, `\`) {
		return Entry{}, fmt.Errorf("backslash-escaped file names are not supported")
	}
	if len(line) < 66 {
		return Entry{}, fmt.Errorf("want `<64 hex characters>  <path>`")
	}

	sum := line[:64]
	if !IsHex256(sum) {
		sum = strings.ToLower(sum)
	}
	if !IsHex256(sum) {
		return Entry{}, fmt.Errorf("checksum %q is not 64 hex characters", line[:64])
	}
	if line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
		return Entry{}, fmt.Errorf("want two spaces or ` *` after the checksum")
	}

	p, err := CleanPath(line[66:])
	if err != nil {
		return Entry{}, err
	}

	return Entry{Path: p, SHA256: sum}, nil
}

// CleanPath checks a slash-separated path as found in SHA256SUMS or a tar member name and returns
// it without a leading "./". It refuses empty, absolute and non-clean paths, ".." elements,
// backslashes and control characters.
func CleanPath(p string) (string, error) {
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	switch {
	case p == "" || p == ".":
		return "", fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("absolute path %q", p)
	case strings.ContainsRune(p, '\\'):
		return "", fmt.Errorf("path %q holds a backslash", p)
	case strings.ContainsFunc(p, isControl):
		return "", fmt.Errorf("path %q holds a control character", p)
	}
	for rest := p; rest != ""; {
		el := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			el, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if el == ".." {
			return "", fmt.Errorf("path %q has a \"..\" element", p)
		}
	}
	if path.Clean(p) != p {
		return "", fmt.Errorf("path %q is not clean (want %q)", p, path.Clean(p))
	}

	return p, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// IsHex256 reports whether s is 64 lower-case hex characters, the form of every sha256 in mms.
func IsHex256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Format renders entries in the `sha256sum` text format, one `<hex>  <path>` line each, in the
// order given.
func (s Sums) Format() []byte {
	var b bytes.Buffer
	for _, e := range s {
		b.WriteString(e.SHA256)
		b.WriteString("  ")
		b.WriteString(e.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
