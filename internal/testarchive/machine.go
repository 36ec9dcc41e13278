package testarchive

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mms-io/mms/machines/archive"
)

// Machine builds a real archive of a machine called name holding files (relative path to
// content) and a machine.yaml, unless files gives its own, and returns the archive's bytes
// and its entry checksums.
func Machine(t testing.TB, name string, files map[string]string) ([]byte, archive.BuildResult) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	all := map[string]string{"machine.yaml": "name: " + name + "\ninitial_state: RUN\n"}
	for k, v := range files {
		all[k] = v
	}
	for p, content := range all {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	res, err := archive.Build(src, name, &buf)
	if err != nil {
		t.Fatalf("build archive %q: %v", name, err)
	}
	return buf.Bytes(), res
}
