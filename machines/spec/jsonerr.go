package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// jsonProblem says where data stops being valid JSON, by line and column as jq does:
// "line 3, column 14: invalid character '}' ...". Only called on data a validator refused,
// nested within jsondepth.Max.
func jsonProblem(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		if err == nil {
			return "not valid JSON"
		}
		return err.Error()
	}
	line, col := lineColumn(data, syn.Offset)
	return fmt.Sprintf("line %d, column %d: %s", line, col, syn.Error())
}

// lineColumn turns a byte offset into a 1-based line and column.
func lineColumn(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

// closest returns the known name nearest to name (an unknown field, a typo), when one is
// within two edits: "cheksum" is "checksum".
func closest(name string, known []string) (string, bool) {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
