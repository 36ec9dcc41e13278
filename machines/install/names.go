package install

import (
	"crypto/rand"
	"encoding/hex"
	"github.com/mms-io/mms/machines/spec"
	"strings"
)

const (
	stagePrefix = ".mms-stage-"
	oldPrefix   = ".mms-old-"
	suffixBytes = 8 // the random suffix is 2*suffixBytes lowercase hex characters
)

// mmsName returns prefix + name + "-" + a random suffix.
func mmsName(prefix, name string) string {
	b := make([]byte, suffixBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return prefix + name + "-" + hex.EncodeToString(b)
}

// isMMSName reports whether entry is exactly a name mmsName makes, with either prefix: only
// those are removed by Open.
func isMMSName(entry string) bool {
	var rest string
	switch {
	case strings.HasPrefix(entry, stagePrefix):
		rest = entry[len(stagePrefix):]
	case strings.HasPrefix(entry, oldPrefix):
		rest = entry[len(oldPrefix):]
	default:
		return false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return false
	}
	name, suffix := rest[:i], rest[i+1:]
	if len(suffix) != 2*suffixBytes || strings.ToLower(suffix) != suffix {
		return false
	}
	if _, err := hex.DecodeString(suffix); err != nil {
		return false
	}
	return spec.ValidName(name) == nil
}

// isRenameioTemp reports whether entry in .mms is a temporary file renameio left while
// writing state.json: "." + "state.json" + decimal digits.
func isRenameioTemp(entry string) bool {
	digits, ok := strings.CutPrefix(entry, "."+stateFileName)
	if !ok || digits == "" {
		return false
	}
	digits = strings.TrimPrefix(digits, "-")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}
