package sums

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCacheJSON(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	c := Cache{"bin/run": {Size: 10, ModNs: 1700000000123456789, ChangeNs: 1700000000987654321, Inode: 1 << 40, SHA256: sha}, `we"ird é`: {SHA256: sha}}
	data, err := json.Marshal(struct{ Files Cache }{c})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ Files Cache }
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Files, c) {
		t.Fatalf("round trip: %+v", back.Files)
	}
	for _, bad := range []string{
		`[]`, `{"a":[1,2,3,4]}`, `{"a":[1,2,3,4,5]}`, `{"a":["1",2,3,4,"` + sha + `"]}`,
		`{"a":[1.5,2,3,4,"` + sha + `"]}`, `{"a":[1,2,3,-4,"` + sha + `"]}`, `{"a":{"size":1}}`,
	} {
		var got Cache
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzCacheJSON: whatever decodes must encode to valid JSON that decodes to the same cache,
// less the stamps whose path or hash is not UTF-8 (JSON cannot carry them; their files are
// hashed again).
func FuzzCacheJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,3,4,"` + strings.Repeat("0", 64) + `"]}`))
	f.Add([]byte(`null`))
	f.Add([]byte("{\"\":[0,0,0,0,\"\x80\"]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Cache
		if err := c.UnmarshalJSON(data); err != nil {
			return
		}
		out, err := c.MarshalJSON()
		if err != nil || !json.Valid(out) {
			t.Fatalf("%q encoded to invalid JSON %q: %v", data, out, err)
		}
		want := Cache(nil)
		if c != nil {
			want = Cache{}
			for p, st := range c {
				if utf8.ValidString(p) && utf8.ValidString(st.SHA256) {
					want[p] = st
				}
			}
		}
		var again Cache
		if err := again.UnmarshalJSON(out); err != nil || !reflect.DeepEqual(again, want) {
			t.Fatalf("%q -> %s -> %v %v, want %v", data, out, again, err, want)
		}
	})
}
