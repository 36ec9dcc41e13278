package machines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goChoriaRendering is what go-choria v0.29.4 writes as mm_<name>/machine.yaml, from the
// fixture testdata/gochoria/<template>.yaml (machineswatcher or pluginswatcher) with its
// placeholders filled and its leading comment lines, which go-choria does not write, removed.
type goChoriaRendering struct {
	template, name, target, source, checksum, verifyChecksum string
}

func (r goChoriaRendering) render(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "gochoria", r.template+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	return []byte(strings.NewReplacer(
		"@NAME@", r.name, "@TARGET@", r.target, "@SOURCE@", r.source,
		"@CHECKSUM@", r.checksum, "@VERIFY_CHECKSUM@", r.verifyChecksum,
	).Replace(strings.Join(lines, "\n")))
}

// writeManager writes data as <dir>/mm_<name>/machine.yaml with go-choria's modes (0700, 0600).
func writeManager(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	mdir := filepath.Join(dir, GoChoriaManagerDir(name))
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mdir, "machine.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return mdir
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
