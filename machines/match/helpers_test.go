package match

import (
	"os"
	"path/filepath"
	"testing"
)

// testNode returns a node called web1.example.net with the facts of testdata/facts.json and a
// PATH holding one directory with an executable "tool", a non-executable "data" and a
// directory "subdir".
func testNode(t testing.TB) Node {
	t.Helper()
	facts, err := LoadFacts(filepath.Join("testdata", "facts.json"))
	if err != nil {
		t.Fatalf("LoadFacts: %v", err)
	}
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "tool"), 0o755)
	writeFile(t, filepath.Join(bin, "data"), 0o644)
	if err := os.Mkdir(filepath.Join(bin, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	node, err := NewNode("web1.example.net", facts, bin)
	if err != nil {
		t.Fatalf("NewNode: %v", err)
	}
	return node
}

// writeFile creates a small file with the given mode.
func writeFile(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// mustCompile compiles or fails the test.
func mustCompile(t testing.TB, expression string) *Matcher {
	t.Helper()
	m, err := Compile(expression)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expression, err)
	}
	return m
}

// matchCase is one expression and the answer expected for the test node.
type matchCase struct {
	name string
	expr string
	want bool
}

// runMatchCases compiles and evaluates each case against node.
func runMatchCases(t *testing.T, node Node, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustCompile(t, tc.expr).Match(node)
			if err != nil {
				t.Fatalf("Match(%q): %v", tc.expr, err)
			}
			if got != tc.want {
				t.Fatalf("Match(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}
