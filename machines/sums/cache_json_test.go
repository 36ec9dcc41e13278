package sums

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
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

// FuzzCacheJSON: whatever decodes must encode and decode to the same cache.
func FuzzCacheJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,3,4,"` + strings.Repeat("0", 64) + `"]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Cache
		if err := c.UnmarshalJSON(data); err != nil {
			return
		}
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var again Cache
		if err := again.UnmarshalJSON(out); err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%s -> %s -> %v %v", data, out, again, err)
		}
	})
}
