package spec

import (
	"fmt"
	"strings"
)

// foldProblem says why key may not stand in a specification whose known keys are known: it is
// not one of them, but equals one under Unicode case folding ("Machines", "\u017fource",
// "chec\u212asum"). mms matches keys exactly; go-choria decodes with encoding/json, which
// matches them case-insensitively, so such a key would make one signed specification mean two
// things on a mixed fleet. "" when key is known or folds to no known key.
func foldProblem(key string, known []string) string {
	for _, k := range known {
		if key == k {
			return ""
		}
	}
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return fmt.Sprintf("field %q is not %q but folds to it: go-choria would read it as %s and mms does not; write it as %q", key, k, k, k)
		}
	}
	return ""
}
