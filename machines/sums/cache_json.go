package sums

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/mms-io/mms/internal/jsondepth"
)

// A cache holds a stamp for every file of every managed machine and is read on every
// reconcile, so it is stored compactly and decoded without reflection: each stamp is the array
// [size, mtime_ns, ctime_ns, inode, "sha256", mode], keyed by path (mode left out when not
// known).

// MarshalJSON writes the cache as {"path": [size, mtime_ns, ctime_ns, inode, "sha256"], ...},
// paths sorted. A stamp whose path or hash is not valid UTF-8 cannot travel in JSON and is left
// out: its file is hashed again next time.
func (c Cache) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	paths := make([]string, 0, len(c))
	for p, st := range c {
		if utf8.ValidString(p) && utf8.ValidString(st.SHA256) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	out := make([]byte, 0, len(paths)*128)
	out = append(out, '{')
	for i, p := range paths {
		s := c[p]
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, p)
		out = append(out, ":["...)
		out = strconv.AppendInt(out, s.Size, 10)
		out = append(out, ',')
		out = strconv.AppendInt(out, s.ModNs, 10)
		out = append(out, ',')
		out = strconv.AppendInt(out, s.ChangeNs, 10)
		out = append(out, ',')
		out = strconv.AppendUint(out, s.Inode, 10)
		out = append(out, ',')
		out = appendJSONString(out, s.SHA256)
		if s.Mode != 0 {
			out = append(out, ',')
			out = strconv.AppendUint(out, uint64(s.Mode), 10)
		}
		out = append(out, ']')
	}
	return append(out, '}'), nil
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(out []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(out, b...)
}

// UnmarshalJSON reads what MarshalJSON writes, refusing anything else.
func (c *Cache) UnmarshalJSON(data []byte) error {
	if err := jsondepth.Check(data, jsondepth.Max); err != nil {
		return fmt.Errorf("verification cache: %w", err)
	}
	if !gjson.ValidBytes(data) {
		return fmt.Errorf("verification cache is not valid JSON")
	}
	root := gjson.ParseBytes(data)
	if root.Type == gjson.Null {
		*c = nil
		return nil
	}
	if !root.IsObject() {
		return fmt.Errorf("verification cache must be an object")
	}
	out := Cache{}
	var err error
	root.ForEach(func(key, value gjson.Result) bool {
		var s Stamp
		if s, err = decodeStamp(value); err != nil {
			err = fmt.Errorf("verification cache: %q: %w", key.Str, err)
			return false
		}
		out[key.Str] = s
		return true
	})
	if err != nil {
		return err
	}
	*c = out
	return nil
}

// decodeStamp reads one [size, mtime_ns, ctime_ns, inode, "sha256"] array.
func decodeStamp(v gjson.Result) (Stamp, error) {
	if !v.IsArray() {
		return Stamp{}, errStampForm
	}
	var s Stamp
	var err error
	i := 0
	v.ForEach(func(_, f gjson.Result) bool {
		switch {
		case i < 4 && f.Type != gjson.Number:
			err = fmt.Errorf("stamp field %d must be an integer, got %s", i+1, f.Raw)
		case i == 0:
			s.Size, err = strconv.ParseInt(f.Raw, 10, 64)
		case i == 1:
			s.ModNs, err = strconv.ParseInt(f.Raw, 10, 64)
		case i == 2:
			s.ChangeNs, err = strconv.ParseInt(f.Raw, 10, 64)
		case i == 3:
			s.Inode, err = strconv.ParseUint(f.Raw, 10, 64)
		case i == 4 && f.Type != gjson.String:
			// The hash is not checked for form: one that matches nothing only costs a re-hash.
			err = fmt.Errorf("stamp sha256 must be a string, got %s", f.Raw)
		case i == 4:
			s.SHA256 = f.Str
		case i == 5 && f.Type != gjson.Number:
			err = fmt.Errorf("stamp mode must be an integer, got %s", f.Raw)
		case i == 5:
			var m uint64
			m, err = strconv.ParseUint(f.Raw, 10, 32)
			s.Mode = uint32(m) & 0o777
		}
		i++
		return err == nil && i <= 6
	})
	switch {
	case err != nil:
		return Stamp{}, err
	case i != 5 && i != 6: // the mode is left out when not known, as older mms wrote it
		return Stamp{}, errStampForm
	}
	return s, nil
}

var errStampForm = fmt.Errorf("stamp must be [size, mtime_ns, ctime_ns, inode, sha256]")
