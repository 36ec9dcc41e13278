package rollout

import (
	"errors"
	"testing"
)

func TestBudget(t *testing.T) {
	for _, c := range []struct {
		in              string
		unhealthy, took int
		exceeded        bool
	}{
		{"0", 0, 10, false},
		{"0", 1, 10, true},
		{"3", 3, 10, false},
		{"3", 4, 10, true},
		{"0%", 1, 1000, true},
		{"5%", 5, 100, false},
		{"5%", 6, 100, true},
		{"5%", 1, 20, false},
		{"5%", 1, 19, true},
		{"12.5%", 1, 8, false},
		{"12.5%", 2, 8, true},
		{"100%", 10, 10, false},
	} {
		b, err := ParseBudget(c.in)
		if err != nil {
			t.Fatalf("ParseBudget(%q): %v", c.in, err)
		}
		if got := b.Exceeded(c.unhealthy, c.took); got != c.exceeded {
			t.Errorf("%s with %d of %d unhealthy: exceeded %v, want %v", c.in, c.unhealthy, c.took, got, c.exceeded)
		}
		if again, err := ParseBudget(b.String()); err != nil || again != b {
			t.Errorf("%q writes back as %q, which reads %+v, %v", c.in, b.String(), again, err)
		}
	}
	for _, bad := range []string{"", "-1", "x", "5 %x", "101%", "0.001%", "-5%"} {
		if _, err := ParseBudget(bad); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("ParseBudget(%q) = %v, want ErrInvalidPolicy", bad, err)
		}
	}
}

func FuzzParseBudget(f *testing.F) {
	for _, s := range []string{"0", "3", "5%", "12.5%", "100%", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBudget(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("a refusal that is not ErrInvalidPolicy: %v", err)
			}
			return
		}
		if again, err := ParseBudget(b.String()); err != nil || again != b {
			t.Fatalf("%q reads %+v, writes %q, reads back %+v, %v", s, b, b.String(), again, err)
		}
		if b.Exceeded(0, 100) {
			t.Fatal("no unhealthy node exceeds a budget")
		}
	})
}
