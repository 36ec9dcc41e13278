// Package jsondepth bounds how deeply a JSON document nests, before any recursive parser
// (gjson's validator, encoding/json) sees it: a document of a few megabytes of '[' otherwise
// overflows the stack and kills the process (`fatal error: stack overflow`, which no recover
// catches).
package jsondepth

import "fmt"

// Max is the nesting every mms document stays well within: a specification nests four deep,
// a record six, facts rarely more than ten.
const Max = 64

// Check scans data once, iteratively, and refuses it when its arrays and objects nest deeper
// than max. Brackets inside strings do not count. It does not validate the JSON: the parser
// that runs after it does.
func Check(data []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nests deeper than %d levels (at byte %d)", max, i)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
