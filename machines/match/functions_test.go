package match

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdentity(t *testing.T) {
	node := testNode(t)
	runMatchCases(t, node, []matchCase{
		{"matches a prefix", `identity('^web')`, true},
		{"matches an anchored full name", `identity("^web1\\.example\\.net$")`, true},
		{"does not match another prefix", `identity('^db')`, false},
		{"treats the pattern as a regexp", `identity('^w.b[0-9]+\\.')`, true},
		{"treats the pattern as a regexp, not a glob", `identity('web*.net')`, false},
		{"is case sensitive", `identity('^WEB')`, false},
		{"honours flags", `identity('(?i)^WEB')`, true},
		{"matches a pattern computed at run time", `identity('^' + get_fact('tags')[0])`, true},
	})

	t.Run("reports a bad constant regexp at compile time", func(t *testing.T) {
		_, err := Compile(`identity('^web(')`)
		assertMatcherError(t, err, "missing closing )")
	})
	t.Run("reports a bad regexp computed at run time for this node only", func(t *testing.T) {
		m := mustCompile(t, `identity('^(' + get_fact('os.family'))`)
		_, err := m.Match(node)
		assertMatcherError(t, err, "missing closing )")
		assertContains(t, err, `node "web1.example.net"`)
	})
}

func TestHasFileAndDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, 0o600)
	if err := os.Symlink(file, filepath.Join(dir, "link-to-file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	node := testNode(t)
	q := func(f, p string) string { return f + "('" + filepath.Join(dir, p) + "')" }
	runMatchCases(t, node, []matchCase{
		{"has_file is true for a regular file", q("has_file", "file"), true},
		{"has_file is false for a directory", `has_file('` + dir + `')`, false},
		{"has_file is false for a missing path", q("has_file", "missing"), false},
		{"has_file follows a symlink to a file", q("has_file", "link-to-file"), true},
		{"has_file is false for a dangling symlink", q("has_file", "dangling"), false},
		{"has_file is false below a file", q("has_file", "file/below"), false},
		{"has_file is false for an empty path", `has_file('')`, false},
		{"has_directory is true for a directory", `has_directory('` + dir + `')`, true},
		{"has_directory is false for a file", q("has_directory", "file"), false},
		{"has_directory is false for a missing path", q("has_directory", "missing"), false},
		{"has_directory is false for an empty path", `has_directory('')`, false},
	})

	t.Run("says it cannot tell when the path cannot be inspected", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root can inspect every path")
		}
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(locked, "inside"), 0o600)
		if err := os.Chmod(locked, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(locked, 0o700) })
		_, err := mustCompile(t, q("has_file", "locked/inside")).Match(node)
		assertMatcherError(t, err, "permission denied")
	})
}

func TestHasCommand(t *testing.T) {
	node := testNode(t)
	runMatchCases(t, node, []matchCase{
		{"finds an executable on the node's PATH", `has_command('tool')`, true},
		{"ignores a file without an execute bit", `has_command('data')`, false},
		{"ignores a directory", `has_command('subdir')`, false},
		{"does not find a missing command", `has_command('no-such-tool')`, false},
		{"is false for an empty name", `has_command('')`, false},
		{"checks a name with a slash as given", `has_command('` + filepath.Join(node.Path, "tool") + `')`, true},
		{"checks an absolute name without an execute bit as given", `has_command('` + filepath.Join(node.Path, "data") + `')`, false},
	})

	t.Run("searches every PATH element in order", func(t *testing.T) {
		other := testNode(t)
		other.Path = t.TempDir() + string(os.PathListSeparator) + node.Path
		runMatchCases(t, other, []matchCase{{"second element", `has_command('tool')`, true}})
	})
	t.Run("never finds a command through a relative PATH element", func(t *testing.T) {
		t.Chdir(node.Path)
		rel := node
		rel.Path = "." + string(os.PathListSeparator) + "" + string(os.PathListSeparator) + "bin"
		runMatchCases(t, rel, []matchCase{
			{"relative PATH elements", `has_command('tool')`, false},
			{"a relative name with a slash", `has_command('./tool')`, false},
		})
	})
	t.Run("uses $PATH when the node has no Path", func(t *testing.T) {
		t.Setenv("PATH", node.Path)
		empty := node
		empty.Path = ""
		runMatchCases(t, empty, []matchCase{{"env", `has_command('tool')`, true}})
	})
}

func TestGetFact(t *testing.T) {
	node := testNode(t)
	runMatchCases(t, node, []matchCase{
		{"compares a nested number", `get_fact('cpu.count') > 4`, true},
		{"compares a nested number for equality with an int", `get_fact('cpu.count') == 8`, true},
		{"compares a float", `get_fact('memory.total_mb') < 4096`, true},
		{"compares a string", `get_fact('os.family') == 'debian'`, true},
		{"reads deeper paths", `get_fact('os.release.major') == "12"`, true},
		{"finds an element in an array", `'prod' in get_fact('tags')`, true},
		{"does not find a missing element", `'db' in get_fact('tags')`, false},
		{"indexes an array", `get_fact('tags.0') == 'web'`, true},
		{"counts an array with gjson", `get_fact('tags.#') == 2`, true},
		{"returns bools", `get_fact('virtual') == false`, true},
		{"returns maps", `get_fact('cpu').model == 'Xeon'`, true},
		{"returns nil for a missing fact", `get_fact('no.such.fact') == nil`, true},
		{"returns nil for a JSON null", `get_fact('nothing') == nil`, true},
		{"lets a missing fact default", `(get_fact('no.such') ?? 0) < 1`, true},
		{"works inside a predicate", `any(get_fact('choria.collectives'), # startsWith 'eu')`, true},
		{"works with builtins", `len(get_fact('tags')) == 2 && upper(get_fact('os.family')) == 'DEBIAN'`, true},
	})

	t.Run("returns nil when the node has no facts", func(t *testing.T) {
		bare := Node{Identity: "bare"}
		runMatchCases(t, bare, []matchCase{{"nil", `get_fact('cpu.count') == nil`, true}})
	})
	t.Run("refuses to read facts that are not JSON", func(t *testing.T) {
		bad := Node{Identity: "bad", Facts: []byte(`{"cpu": {"count": 8`)}
		_, err := mustCompile(t, `get_fact('cpu.count') > 4`).Match(bad)
		assertMatcherError(t, err, "not valid JSON")
	})
	t.Run("fails the entry when a missing fact is compared as a number", func(t *testing.T) {
		_, err := mustCompile(t, `get_fact('no.such') > 4`).Match(node)
		assertMatcherError(t, err, "invalid operation")
	})
	t.Run("fails the entry when the whole matcher is a missing fact", func(t *testing.T) {
		_, err := mustCompile(t, `get_fact('no.such')`).Match(node)
		assertMatcherError(t, err, "expected bool")
	})
}

func TestLoadFacts(t *testing.T) {
	t.Run("refuses a file that is not valid JSON", func(t *testing.T) {
		_, err := LoadFacts(filepath.Join("testdata", "truncated.json"))
		assertMatcherError(t, err, "not valid JSON")
	})
	t.Run("refuses a missing file naming it", func(t *testing.T) {
		_, err := LoadFacts(filepath.Join("testdata", "missing.json"))
		assertMatcherError(t, err, "missing.json")
	})
	t.Run("refuses a file over max_facts_bytes", func(t *testing.T) {
		big := filepath.Join(t.TempDir(), "big.json")
		data := `"` + strings.Repeat("x", DefaultMaxFactsBytes) + `"`
		if err := os.WriteFile(big, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFacts(big)
		assertLimitError(t, err, LimitFactsBytes)
	})
	t.Run("NewNode refuses facts that are not JSON", func(t *testing.T) {
		_, err := NewNode("n", []byte("{"), "")
		assertMatcherError(t, err, "not valid JSON")
	})
	t.Run("NewNode accepts nil facts", func(t *testing.T) {
		if _, err := NewNode("n", nil, ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRegexpCache(t *testing.T) {
	cachedPatterns := func(m *Matcher) int {
		n := 0
		m.patterns.Range(func(any, any) bool { n++; return true })
		return n
	}

	t.Run("compiles a constant pattern once, at Compile", func(t *testing.T) {
		m := mustCompile(t, `identity('^web') || identity('^db')`)
		if n := cachedPatterns(m); n != 2 {
			t.Fatalf("%d patterns cached after Compile, want 2", n)
		}
		node := testNode(t)
		for range 10 {
			if ok, err := m.Match(node); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
		if n := cachedPatterns(m); n != 2 {
			t.Fatalf("%d patterns cached after Match, want 2", n)
		}
	})

	t.Run("bounds the cache of patterns computed at run time", func(t *testing.T) {
		m := mustCompile(t, `identity(get_fact('pattern'))`)
		for i := range 3 * maxCachedPatterns {
			node, err := NewNode(fmt.Sprintf("n%d", i), []byte(fmt.Sprintf(`{"pattern": "^n%d$"}`, i)), "")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := m.Match(node); !ok || err != nil {
				t.Fatalf("node %d: %v, %v", i, ok, err)
			}
		}
		if n := cachedPatterns(m); n > maxCachedPatterns || n == 0 {
			t.Fatalf("%d patterns cached, want between 1 and %d", n, maxCachedPatterns)
		}
	})
}

func TestDeeplyNestedFacts(t *testing.T) {
	deep := []byte(strings.Repeat("[", 4<<20))
	t.Run("refuses facts that nest too deep, without overflowing the stack", func(t *testing.T) {
		if _, err := NewNode("n", deep, ""); err == nil || !strings.Contains(err.Error(), "levels") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fails get_fact on such facts set directly", func(t *testing.T) {
		_, err := mustCompile(t, `get_fact('a') == nil`).Match(Node{Identity: "n", Facts: deep})
		assertMatcherError(t, err, "levels")
	})
}
