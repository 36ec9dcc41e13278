package spec

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/mms-io/mms/machines/errs"
)

func TestValidName(t *testing.T) {
	good := []string{"web", "a", "A9", "my-machine", "my_machine.v2", "0", strings.Repeat("a", 128), "temp", "tmp2", "x-temporary"}
	bad := []string{"", ".hidden", "-dash", "_under", "tmp", "web-temp", "a/b", "..", ".", "a b", "é", strings.Repeat("a", 129), "a\x00", "web\n"}
	for _, n := range good {
		t.Run("accepts "+n, func(t *testing.T) {
			if err := ValidName(n); err != nil {
				t.Fatalf("ValidName(%q) = %v", n, err)
			}
		})
	}
	for _, n := range bad {
		t.Run("refuses "+n, func(t *testing.T) {
			err := ValidName(n)
			if !errors.Is(err, errs.ErrInvalidSpec) {
				t.Fatalf("ValidName(%q) = %v, want ErrInvalidSpec", n, err)
			}
		})
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"web", "tmp", "a-temp", ".x", "a/b", "..", strings.Repeat("z", 130)} {
		f.Add(s)
	}
	re := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	f.Fuzz(func(t *testing.T, name string) {
		want := re.MatchString(name) && name != "tmp" && !strings.HasSuffix(name, "-temp")
		err := ValidName(name)
		if (err == nil) != want {
			t.Fatalf("ValidName(%q) = %v, want valid=%v", name, err, want)
		}
		if err == nil && (strings.ContainsAny(name, "/\x00") || name == "." || name == "..") {
			t.Fatalf("ValidName(%q) accepted a name that is not a single path component", name)
		}
	})
}
