package objstore_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
	"github.com/mms-io/mms/objstore"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want objstore.Ref
		back string // String() of the result, when it is not raw
	}{
		{raw: "obj://archives/web-1.0.tgz", want: objstore.Ref{Bucket: "archives", Name: "web-1.0.tgz"}},
		{raw: "obj://My_Bucket-2/machines/web/1.0.tgz", want: objstore.Ref{Bucket: "My_Bucket-2", Name: "machines/web/1.0.tgz"}},
		{raw: "obj://b/a%20b%3Fc%23d%25e", want: objstore.Ref{Bucket: "b", Name: "a b?c#d%e"}},
		{raw: "obj://b/a%2Fb", want: objstore.Ref{Bucket: "b", Name: "a/b"}, back: "obj://b/a/b"},
		{raw: "obj://b//lead/and//double/", want: objstore.Ref{Bucket: "b", Name: "/lead/and//double/"}},
		{raw: "OBJ://b/x.tgz", want: objstore.Ref{Bucket: "b", Name: "x.tgz"}, back: "obj://b/x.tgz"},
		{raw: "obj://b/ünïcode ✓", want: objstore.Ref{Bucket: "b", Name: "ünïcode ✓"}, back: "obj://b/%C3%BCn%C3%AFcode%20%E2%9C%93"},
	} {
		t.Run("reads "+tc.raw, func(t *testing.T) {
			got, err := objstore.ParseURL(tc.raw)
			if err != nil || got != tc.want {
				t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
			}
			back := tc.back
			if back == "" {
				back = tc.raw
			}
			if got.String() != back {
				t.Errorf("String() = %q, want %q", got.String(), back)
			}
		})
	}

	for _, tc := range []struct{ why, raw, says string }{
		{"another scheme", "https://host/x.tgz", "obj://"},
		{"no slashes after the scheme", "obj:archives/x.tgz", "obj://"},
		{"userinfo", "obj://user:hunter2@archives/x.tgz", "userinfo"},
		{"a bare user", "obj://user@archives/x.tgz", "userinfo"},
		{"a port", "obj://archives:4222/x.tgz", "port"},
		{"a query", "obj://archives/x.tgz?token=hunter2", "query"},
		{"an empty query", "obj://archives/x.tgz?", "query"},
		{"a fragment", "obj://archives/x.tgz#hunter2", "fragment"},
		{"no bucket", "obj:///x.tgz", "no bucket"},
		{"a bucket with a dot", "obj://arch.ives/x.tgz", "not a valid Object Store bucket name"},
		{"a bucket with an escape", "obj://arch%41ives/x.tgz", "not a valid Object Store bucket name"},
		{"no name", "obj://archives", "no object"},
		{"an empty name", "obj://archives/", "no object"},
		{"an invalid escape", "obj://archives/x%zz.tgz", "escape"},
	} {
		t.Run("refuses "+tc.why, func(t *testing.T) {
			ref, err := objstore.ParseURL(tc.raw)
			if !errors.Is(err, errs.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("ParseURL(%q) = %+v, %v; want ErrInvalidSpec saying %q", tc.raw, ref, err, tc.says)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q quotes a credential", err)
			}
		})
	}
}

var bucketRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"obj://archives/web-1.0.tgz", "obj://b/a%2Fb/c", "obj://b//x//", "obj://b/%zz", "obj://u:p@b/x",
		"obj://b:1/x", "obj://b/x?q", "obj://b/x#f", "OBJ://b/%E2%9C%93", "obj://b/\x00\n", "obj://", "obj:///",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ref, err := objstore.ParseURL(raw)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Fatalf("ParseURL(%q): %v does not wrap ErrInvalidSpec", raw, err)
			}
			return
		}
		if !bucketRe.MatchString(ref.Bucket) || ref.Name == "" {
			t.Fatalf("ParseURL(%q) accepted %+v", raw, ref)
		}
		s := ref.String()
		again, err := objstore.ParseURL(s)
		if err != nil || again != ref {
			t.Fatalf("ParseURL(%q) = %+v, but its String %q reads back as %+v, %v", raw, ref, s, again, err)
		}
		if again.String() != s {
			t.Fatalf("String is not stable: %q then %q", s, again.String())
		}
	})
}
