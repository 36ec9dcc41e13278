package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// How mms demo shows numbers, durations and commands: readably, yet with what an operator
// sees elsewhere (mms verify and mms status show a version as its number).

// Unix milliseconds from 2001-09-09 to 2286-11-20: a v2 version in this range is most likely
// what mms pack makes by default, the packing time in Unix milliseconds.
const (
	minMilliVersion = 1_000_000_000_000
	maxMilliVersion = 10_000_000_000_000
)

// readableVersion shows a v2 specification version as its number and, when it looks like Unix
// milliseconds, the instant it stands for: "1764625000000 (2025-12-01T21:36:40.000Z)".
func readableVersion(v int64) string {
	if v < minMilliVersion || v >= maxMilliVersion {
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprintf("%d (%s)", v, time.UnixMilli(v).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// readableDuration shows d in whole milliseconds below a second ("<1ms", "12ms"), to a tenth
// of a second below a minute ("1.2s", "42s"), and to the second above ("1m5s", "2h").
func readableDuration(d time.Duration) string {
	if d < 0 {
		return "-" + readableDuration(-d)
	}
	if d < time.Millisecond {
		return "<1ms"
	}
	if r := d.Round(time.Millisecond); r < time.Second {
		return fmt.Sprintf("%dms", r/time.Millisecond)
	}
	if r := d.Round(100 * time.Millisecond); r < time.Minute {
		return strings.TrimSuffix(strconv.FormatFloat(r.Seconds(), 'f', 1, 64), ".0") + "s"
	}
	s := d.Round(time.Second).String() // "1h0m0s", "1m5s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// plainShellWord is what a POSIX shell reads as one word without quotes.
var plainShellWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if plainShellWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commandLine is a command an operator can paste into a shell: args quoted as needed.
func commandLine(args ...string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = shellWord(a)
	}
	return strings.Join(words, " ")
}
