package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommandsExist checks every `mms` command line of the README against the CLI: the
// command (and the subcommand it names, if any) exists and takes every flag the line gives, so the README cannot drift from the
// tool. (What the commands do is proven by the tests of each command and by e2e/.)
func TestReadmeCommandsExist(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	app := newApp()
	lineRe := regexp.MustCompile(`(?m)^    (?:\$ )?mms ([a-z]+)(.*)$`) // indented code lines
	flagRe := regexp.MustCompile(`(?:^|\s)--([a-z][a-z-]*)`)
	lines := lineRe.FindAllStringSubmatch(string(readme), -1)
	if len(lines) < 10 {
		t.Fatalf("found only %d mms command lines in the README", len(lines))
	}
	for _, m := range lines {
		name, rest := m[1], m[2]
		if i := strings.Index(rest, "#"); i >= 0 {
			rest = rest[:i]
		}
		cmd := app.GetCommand(name)
		if cmd == nil {
			t.Errorf("README runs `mms %s`, which does not exist", name)
			continue
		}
		// A command with subcommands (mms keyring init): the flags are the subcommand's.
		for words := strings.Fields(rest); len(words) > 0 && cmd.GetCommand(words[0]) != nil; words = words[1:] {
			cmd, name = cmd.GetCommand(words[0]), name+" "+words[0]
		}
		for _, f := range flagRe.FindAllStringSubmatch(rest, -1) {
			if f[1] == "help" {
				continue
			}
			if cmd.GetFlag(f[1]) == nil {
				t.Errorf("README runs `mms %s --%s`, which has no such flag", name, f[1])
			}
		}
	}
}
