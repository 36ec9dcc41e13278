// Package textclip shortens text for messages and reports without cutting a character in two.
package textclip

import "unicode/utf8"

// Clip returns s when it is at most max bytes, otherwise its first max bytes or fewer, cut at a
// character boundary, followed by "…".
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
