package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusArchiveCache(t *testing.T) {
	arch := newArchives(t)
	key := newSigner(t)
	work, dir := machinesDir(t)
	hello := arch.machine(t, "hello", "hi")
	specFile := filepath.Join(work, "spec.json")
	writeText(t, specFile, string(key.pack(t, 1, hello)))
	if r := mms(t, work, "apply", specFile, "--dir", dir, "--public-key", key.pub); r.code != 0 {
		t.Fatalf("apply: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	status := func(t *testing.T) (statusDocJSON, result) {
		t.Helper()
		r := mms(t, work, "status", "--dir", dir, "--json")
		var doc statusDocJSON
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("status --json: %v: %q %s", err, r.stdout, r.stderr)
		}
		return doc, r
	}

	t.Run("shows the archive kept and the machine whose archive it is", func(t *testing.T) {
		doc, r := status(t)
		if r.code != 0 || doc.ArchiveCache.Entries != 1 || len(doc.ArchiveCache.Checksums) != 1 || doc.ArchiveCache.Checksums[0] != hello.Checksum ||
			len(doc.Machines) != 1 || !doc.Machines[0].Cached {
			t.Fatalf("exit %d: %+v", r.code, doc)
		}
		text := mms(t, work, "status", "--dir", dir)
		if !strings.Contains(text.stdout, "archive: kept in the archive cache") || !strings.Contains(text.stdout, "Archive cache: 1 archives") {
			t.Fatalf("text status:\n%s", text.stdout)
		}
	})

	t.Run("an archives directory it may not trust is said, and the rest is still shown", func(t *testing.T) {
		cacheDir := filepath.Join(dir, ".mms", "archives")
		if err := os.Chmod(cacheDir, 0o777); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(cacheDir, 0o700) })
		doc, r := status(t)
		if r.code != 0 || !strings.Contains(doc.ArchiveCacheProblem, "writable by others") || len(doc.Machines) != 1 || doc.Machines[0].Cached {
			t.Fatalf("exit %d: %+v", r.code, doc)
		}
	})
}

// statusDocJSON is the part of mms.status.v1 these tests read.
type statusDocJSON struct {
	Machines []struct {
		Name   string `json:"name"`
		Cached bool   `json:"archive_cached"`
	} `json:"machines"`
	ArchiveCache struct {
		Entries   int      `json:"entries"`
		Bytes     int64    `json:"bytes"`
		Checksums []string `json:"checksums"`
	} `json:"archive_cache"`
	ArchiveCacheProblem string `json:"archive_cache_problem"`
}
