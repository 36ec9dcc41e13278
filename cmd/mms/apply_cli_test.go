package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/mms-io/mms/internal/testarchive"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/spec"
)

// writeMachine creates the machine directory root/name holding machine.yaml and files
// (relative path → content) and returns its path.
func writeMachine(t testing.TB, root, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	all := map[string]string{"machine.yaml": choriaMachine(name)}
	maps.Copy(all, files)
	for rel, content := range all {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// archiveEntry runs `mms archive` on the machine directory src, writing serveDir/file, and
// returns the entry it printed, whose source is baseURL/file.
func archiveEntry(t testing.TB, src, name, serveDir, file, baseURL string) spec.Entry {
	t.Helper()
	out := filepath.Join(serveDir, file)
	r := mms(t, serveDir, "archive", src, "--name", name, "--out", out, "--source", baseURL+"/"+file, "--force")
	if r.code != 0 {
		t.Fatalf("mms archive %s: exit %d: %s", src, r.code, r.stderr)
	}
	var e spec.Entry
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
		t.Fatalf("mms archive printed %q: %v", r.stdout, err)
	}
	return e
}

// packSpec writes entries as a machines file in dir, signs it with `mms pack --version` and
// returns the path of the envelope.
func packSpec(t testing.TB, dir, priv string, version int64, entries ...spec.Entry) string {
	t.Helper()
	if entries == nil {
		entries = []spec.Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	machines := filepath.Join(dir, fmt.Sprintf("machines-%d.json", version))
	if err := os.WriteFile(machines, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := mms(t, dir, "pack", machines, priv, "--version", fmt.Sprint(version))
	if r.code != 0 {
		t.Fatalf("mms pack: exit %d: %s", r.code, r.stderr)
	}
	path := filepath.Join(dir, fmt.Sprintf("spec-%d.json", version))
	if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileTree reads every file and directory under dir: relative path → content, with "<dir>"
// for directories. A missing dir is nil.
func fileTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			tree[rel] = "<dir>"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tree[rel] = string(b)
		default:
			tree[rel] = "<" + d.Type().String() + ">"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// dirSnapshot describes everything under dir, state included (testarchive.Tree).
func dirSnapshot(t testing.TB, dir string) map[string]string { return testarchive.Tree(t, dir) }

// sameTree fails when the machine directory got differs from the one it was built from.
func sameTree(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	var diff []string
	for k := range want {
		if g, ok := got[k]; !ok {
			diff = append(diff, "missing "+k)
		} else if g != want[k] {
			diff = append(diff, "differs "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diff = append(diff, "extra "+k)
		}
	}
	slices.Sort(diff)
	t.Fatalf("%s: %s", what, strings.Join(diff, ", "))
}

// archiveServer serves dir on a loopback HTTP server for the test's life.
func archiveServer(t testing.TB, dir string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

// hasLine reports whether out holds a line matching the regular expression re.
func hasLine(out, re string) bool {
	return regexp.MustCompile(`(?m)^` + re + `$`).MatchString(out)
}

func TestApplyCommand(t *testing.T) {
	work, serve, dir := t.TempDir(), t.TempDir(), t.TempDir()
	srv := archiveServer(t, serve)
	pub, priv := keyPair(t, work)
	otherPub, _ := keyPair(t, work)

	webSrc := writeMachine(t, filepath.Join(work, "v1"), "web", map[string]string{"bin/run": "#!/bin/sh\necho web 1\n", "conf/a.txt": "a\n"})
	dbSrc := writeMachine(t, filepath.Join(work, "v1"), "db", map[string]string{"db.txt": "db 1\n"})
	web2Src := writeMachine(t, filepath.Join(work, "v2"), "web", map[string]string{"bin/run": "#!/bin/sh\necho web 2\n", "conf/b.txt": "b\n"})
	web := archiveEntry(t, webSrc, "web", serve, "web-1.tgz", srv.URL)
	db := archiveEntry(t, dbSrc, "db", serve, "db-1.tgz", srv.URL)
	web2 := archiveEntry(t, web2Src, "web", serve, "web-2.tgz", srv.URL)
	webTree, dbTree, web2Tree := fileTree(t, webSrc), fileTree(t, dbSrc), fileTree(t, web2Src)

	spec1 := packSpec(t, work, priv, 1, web, db)
	spec2 := packSpec(t, work, priv, 2, web2, db)
	spec3 := packSpec(t, work, priv, 3, web2)
	apply := func(spec string, args ...string) result {
		t.Helper()
		return mms(t, work, append([]string{"apply", spec, "--dir", dir}, args...)...)
	}

	t.Run("refuses to run without --public-key or --insecure (exit 2), changing nothing", func(t *testing.T) {
		r := apply(spec1)
		if r.code != 2 || !strings.Contains(r.stderr, "--insecure") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("the directory holds %v", entries)
		}
	})

	t.Run("refuses a spec signed by another key (exit 1), installing nothing", func(t *testing.T) {
		r := apply(spec1, "--public-key", otherPub)
		if r.code != 1 || !strings.Contains(r.stderr, "signature") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		for _, name := range []string{"web", "db"} {
			if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
				t.Fatalf("%s exists after a refused spec: %v", name, err)
			}
		}
	})

	t.Run("installs every entry, one line each, exit 0", func(t *testing.T) {
		r := apply(spec1, "--public-key", pub)
		if r.code != 0 {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		for _, name := range []string{"web", "db"} {
			if !hasLine(r.stdout, `install  +`+name+`  +not installed  +\S+`) {
				t.Fatalf("no install line for %s in %q", name, r.stdout)
			}
		}
		sameTree(t, "web", fileTree(t, filepath.Join(dir, "web")), webTree)
		sameTree(t, "db", fileTree(t, filepath.Join(dir, "db")), dbTree)
	})

	t.Run("a second apply of the same spec keeps everything and changes no file", func(t *testing.T) {
		before := dirSnapshot(t, filepath.Join(dir, "web"))
		r := apply(spec1, "--public-key", pub)
		if r.code != 0 || !hasLine(r.stdout, `keep  +web  +.*`) || !hasLine(r.stdout, `keep  +db  +.*`) {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "web", dirSnapshot(t, filepath.Join(dir, "web")), before)
	})

	t.Run("--dry-run prints the update plan and changes nothing", func(t *testing.T) {
		before := dirSnapshot(t, dir)
		r := apply(spec2, "--public-key", pub, "--dry-run")
		if r.code != 0 || !hasLine(r.stdout, `update  +web  +.*`) || !hasLine(r.stdout, `keep  +db  +.*`) {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "DRY RUN: nothing was changed") || !strings.Contains(r.stdout, "Node \"") {
			t.Errorf("a dry run does not say it is one, or for which node:\n%s", r.stdout)
		}
		j := apply(spec2, "--public-key", pub, "--dry-run", "--json", "--identity", "web7")
		var doc applyDoc
		decodeStrict(t, j.stdout, &doc)
		actions := map[string]string{}
		for _, r := range doc.Results {
			actions[r.Name] = r.Action
		}
		if j.code != 0 || doc.Schema != "mms.apply.v1" || !doc.DryRun || doc.Node.Identity != "web7" || !doc.Signed || doc.Failed != 0 ||
			actions["web"] != "update" || actions["db"] != "keep" {
			t.Fatalf("apply --dry-run --json: exit %d, %+v", j.code, doc)
		}
		sameTree(t, "the machines directory", dirSnapshot(t, dir), before)
	})

	t.Run("updates a changed entry and keeps the other", func(t *testing.T) {
		r := apply(spec2, "--public-key", pub)
		if r.code != 0 || !hasLine(r.stdout, `update  +web  +.*`) || !hasLine(r.stdout, `keep  +db  +.*`) {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "web", fileTree(t, filepath.Join(dir, "web")), web2Tree)
		sameTree(t, "db", fileTree(t, filepath.Join(dir, "db")), dbTree)
	})

	t.Run("refuses an older spec once a newer one was applied", func(t *testing.T) {
		before := dirSnapshot(t, dir)
		r := apply(spec1, "--public-key", pub)
		if r.code != 1 {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		j := apply(spec1, "--public-key", pub, "--json")
		var doc applyDoc
		decodeStrict(t, j.stdout, &doc)
		if j.code != 1 || doc.DryRun || !strings.Contains(doc.Refused, "rollback") || len(doc.Results) != 0 {
			t.Errorf("a refused spec with --json: exit %d, %+v", j.code, doc)
		}
		sameTree(t, "the machines directory", dirSnapshot(t, dir), before)
	})

	hand := writeMachine(t, dir, "manual", map[string]string{"notes.txt": "placed by hand\n"})
	handTree := fileTree(t, hand)

	t.Run("without --purge a dropped machine stays", func(t *testing.T) {
		r := apply(spec3, "--public-key", pub)
		if r.code != 0 || strings.Contains(r.stdout, "db") {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "db", fileTree(t, filepath.Join(dir, "db")), dbTree)
	})

	t.Run("--purge removes the dropped machine mms installed and leaves a hand-placed one", func(t *testing.T) {
		r := apply(spec3, "--public-key", pub, "--purge")
		if r.code != 0 || !hasLine(r.stdout, `remove  +db  +.*`) || strings.Contains(r.stdout, "manual") {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Lstat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
			t.Fatalf("db is still there: %v", err)
		}
		sameTree(t, "manual", fileTree(t, hand), handTree)
		sameTree(t, "web", fileTree(t, filepath.Join(dir, "web")), web2Tree)
	})

	t.Run("a source that answers 404 fails that entry (exit 1) and says 404", func(t *testing.T) {
		missing := db
		missing.Source = srv.URL + "/no-such.tgz"
		// an archive this directory never had: db's own is in the archive cache since it
		// was installed, and would be taken from there, whatever its source says
		missing.Checksum = strings.Repeat("ab", 32)
		spec4 := packSpec(t, work, priv, 4, web2, missing)
		r := apply(spec4, "--public-key", pub, "--purge")
		if r.code != 1 || !hasLine(r.stdout, `install FAILED  +db  +.*404.*`) || !hasLine(r.stdout, `keep  +web  +.*`) {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if _, err := os.Lstat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
			t.Fatalf("db appeared: %v", err)
		}
		sameTree(t, "web", fileTree(t, filepath.Join(dir, "web")), web2Tree)
	})

	t.Run("- reads the spec from standard input", func(t *testing.T) {
		data, err := os.ReadFile(spec1)
		if err != nil {
			t.Fatal(err)
		}
		fresh := t.TempDir()
		r := runCmd(t, mmsPath(t), work, data, nil, "apply", "-", "--dir", fresh, "--public-key", pub)
		if r.code != 0 || !hasLine(r.stdout, `install  +web  +.*`) {
			t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "web", fileTree(t, filepath.Join(fresh, "web")), webTree)
	})
}

func TestArchiveCommand(t *testing.T) {
	work := t.TempDir()
	src := writeMachine(t, work, "web", map[string]string{"bin/run": "#!/bin/sh\n", "a..b.txt": "dots\n", "conf/x.json": "{}\n"})

	t.Run("twice gives identical bytes, and prints the archive's sha256 as checksum", func(t *testing.T) {
		var archives [][]byte
		for i := range 2 {
			out := filepath.Join(work, fmt.Sprintf("web-%d.tgz", i))
			r := mms(t, work, "archive", src, "--out", out)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var e spec.Entry
			if err := json.Unmarshal([]byte(r.stdout), &e); err != nil {
				t.Fatalf("printed %q: %v", r.stdout, err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if e.Checksum != hex.EncodeToString(sum[:]) || e.Name != "web" {
				t.Fatalf("printed %+v, the file's sha256 is %x", e, sum)
			}
			sums, err := os.ReadFile(filepath.Join(src, "SHA256SUMS"))
			if err != nil {
				t.Fatal(err)
			}
			if vs := sha256.Sum256(sums); e.VerifyChecksum != hex.EncodeToString(vs[:]) {
				t.Fatalf("verify_checksum %s, SHA256SUMS hashes to %x", e.VerifyChecksum, vs)
			}
			archives = append(archives, b)
		}
		if !bytes.Equal(archives[0], archives[1]) {
			t.Fatal("two archives of the same directory differ")
		}
	})

	t.Run("refuses a directory holding a symlink, writing no archive", func(t *testing.T) {
		linked := writeMachine(t, work, "linked", nil)
		if err := os.Symlink("/etc/passwd", filepath.Join(linked, "passwd")); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(work, "linked.tgz")
		r := mms(t, work, "archive", linked, "--out", out)
		if r.code != 1 || !strings.Contains(r.stderr, "passwd") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if _, err := os.Lstat(out); !os.IsNotExist(err) {
			t.Fatalf("an archive was written: %v", err)
		}
	})

	t.Run("refuses to overwrite an archive without --force", func(t *testing.T) {
		out := writeFile(t, work, "existing.tgz", "keep me")
		if r := mms(t, work, "archive", src, "--out", out); r.code != 1 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if b, _ := os.ReadFile(out); string(b) != "keep me" {
			t.Fatal("the existing file was overwritten")
		}
	})
}
