package rollout

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParseWaves(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want Waves
	}{
		{[]string{"1%", "10%", "50%", "100%"}, Waves{100, 1000, 5000, 10000}},
		{[]string{"100%"}, Waves{10000}},
		{[]string{"0.5%", "12.25%", "100%"}, Waves{50, 1225, 10000}},
		{[]string{" 5% ", "100%"}, Waves{500, 10000}},
	} {
		got, err := ParseWaves(c.in)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("ParseWaves(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		in   []string
		says string
	}{
		{nil, "list at least one"},
		{[]string{"10%", "50%"}, "must be 100%"},
		{[]string{"10%", "10%", "100%"}, "does not grow"},
		{[]string{"50%", "10%", "100%"}, "does not grow"},
		{[]string{"10", "100%"}, "not a percentage"},
		{[]string{"0%", "100%"}, "above 0%"},
		{[]string{"-1%", "100%"}, "above 0%"},
		{[]string{"101%"}, "at most 100%"},
		{[]string{"NaN%", "100%"}, "not a share"},
		{[]string{"1e1%", "100%"}, "in digits"},
		{[]string{"+5%", "100%"}, "in digits"},
		{[]string{"0.125%", "100%"}, "more than two decimals"},
		{strings.Split(strings.Repeat("1%,", MaxWaves)+"100%", ","), "at most"},
	} {
		if _, err := ParseWaves(c.in); !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseWaves(%q) = %v, want a refusal saying %q", c.in, err, c.says)
		}
	}
}

func TestWaveOf(t *testing.T) {
	waves, err := ParseWaves([]string{"1%", "10%", "50%", "100%"})
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 100000
	sum := strings.Repeat("ab", 32)
	count := make([]int, len(waves))
	for i := range nodes {
		count[waves.WaveOf(fmt.Sprintf("node-%d.example.net", i), "web", sum)]++
	}

	t.Run("each wave holds its share of the fleet", func(t *testing.T) {
		prev := 0
		for k, share := range waves {
			want := float64(nodes) * float64(share-prev) / 10000
			// within 5 standard deviations of a binomial draw
			sd := math.Sqrt(want * (1 - float64(share-prev)/10000))
			if got := float64(count[k]); math.Abs(got-want) > 5*sd {
				t.Errorf("wave %d holds %d of %d nodes, want about %.0f (±%.0f)", k+1, count[k], nodes, want, 5*sd)
			}
			prev = share
		}
	})

	t.Run("the same node, entry and checksum always give the same wave", func(t *testing.T) {
		for i := range 1000 {
			id := fmt.Sprintf("node-%d", i)
			if a, b := waves.WaveOf(id, "web", sum), waves.WaveOf(id, "web", strings.ToUpper(sum)); a != b {
				t.Fatalf("%s: wave %d, then %d (checksum case)", id, a, b)
			}
		}
	})

	t.Run("a new release draws new canaries", func(t *testing.T) {
		other := strings.Repeat("cd", 32)
		same, first := 0, 0
		for i := range nodes {
			id := fmt.Sprintf("node-%d.example.net", i)
			if waves.WaveOf(id, "web", sum) == 0 {
				first++
				if waves.WaveOf(id, "web", other) == 0 {
					same++
				}
			}
		}
		// independent draws: about 1% of the first wave's nodes are canaries again
		if first == 0 || same > first/10 {
			t.Fatalf("%d of the %d canaries of one release are canaries of the next", same, first)
		}
	})

	t.Run("identity, entry and checksum cannot run into each other", func(t *testing.T) {
		if point("ab", "c", sum) == point("a", "bc", sum) && point("x", "ab", "c") == point("x", "a", "bc") {
			t.Fatal("the parts are not separated")
		}
	})

	t.Run("with one wave every node is in it", func(t *testing.T) {
		one := Waves{10000}
		for i := range 1000 {
			if w := one.WaveOf(fmt.Sprint(i), "web", sum); w != 0 {
				t.Fatalf("node %d in wave %d", i, w)
			}
		}
	})
}

func TestWavesString(t *testing.T) {
	w, _ := ParseWaves([]string{"0.5%", "10%", "100%"})
	if got := w.String(); got != "[0.5% 10% 100%]" {
		t.Fatalf("String = %q", got)
	}
}

func FuzzParseWaves(f *testing.F) {
	f.Add("1%,10%,50%,100%")
	f.Add("100%")
	f.Add("0.01%,99.99%,100%")
	f.Add("5,100%")
	f.Fuzz(func(t *testing.T, list string) {
		w, err := ParseWaves(strings.Split(list, ","))
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("a refusal that is not ErrInvalidPolicy: %v", err)
			}
			return
		}
		if len(w) == 0 || len(w) > MaxWaves || w[len(w)-1] != 10000 {
			t.Fatalf("accepted %v", w)
		}
		for i := 1; i < len(w); i++ {
			if w[i] <= w[i-1] || w[i-1] <= 0 {
				t.Fatalf("accepted waves that do not grow: %v", w)
			}
		}
		// what String writes reads back the same
		again, err := ParseWaves(strings.Fields(strings.Trim(w.String(), "[]")))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(w) {
			t.Fatalf("%v reads back as %v, %v", w, again, err)
		}
		if k := w.WaveOf(list, "web", "x"); k < 0 || k >= len(w) {
			t.Fatalf("wave %d of %d", k, len(w))
		}
	})
}
