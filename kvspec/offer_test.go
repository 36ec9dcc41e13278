package kvspec

import "testing"

// take returns and clears the pending update, as the receiver would.
func take(r *run) *Update {
	u := r.pending
	r.pending = nil
	return u
}

func TestOffer(t *testing.T) {
	t.Run("never delivers the same revision twice", func(t *testing.T) {
		r := &run{}
		r.offer(Update{Revision: 3, Value: []byte("a")})
		if take(r) == nil {
			t.Fatal("first revision not delivered")
		}
		r.offer(Update{Revision: 3, Value: []byte("a")})
		if u := take(r); u != nil {
			t.Fatalf("revision 3 delivered twice: %+v", u)
		}
	})

	t.Run("never delivers an older revision after a newer one", func(t *testing.T) {
		r := &run{}
		r.offer(Update{Revision: 5})
		take(r)
		r.offer(Update{Revision: 4})
		if u := take(r); u != nil {
			t.Fatalf("older revision delivered: %+v", u)
		}
	})

	t.Run("replaces an undelivered update with a newer one, never with an older one", func(t *testing.T) {
		r := &run{}
		r.offer(Update{Revision: 1})
		r.offer(Update{Revision: 2})
		r.offer(Update{Revision: 1})
		if u := take(r); u == nil || u.Revision != 2 {
			t.Fatalf("want revision 2 pending, got %+v", u)
		}
	})

	t.Run("delivers a deletion once however many markers follow", func(t *testing.T) {
		r := &run{}
		r.offer(Update{Revision: 1, Value: []byte("a")})
		take(r)
		r.offer(Update{Revision: 2, Deleted: true, Value: []byte("ignored")})
		u := take(r)
		if u == nil || !u.Deleted || u.Value != nil {
			t.Fatalf("want one deletion without a value, got %+v", u)
		}
		r.offer(Update{Revision: 3, Deleted: true})
		if u := take(r); u != nil {
			t.Fatalf("second deletion delivered: %+v", u)
		}
		r.offer(Update{Revision: 4, Value: []byte("b")})
		if u := take(r); u == nil || u.Revision != 4 {
			t.Fatalf("value after deletion not delivered: %+v", u)
		}
		r.offer(Update{Revision: 5, Deleted: true})
		if u := take(r); u == nil || !u.Deleted {
			t.Fatalf("a new deletion after a value must be delivered, got %+v", u)
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Run("doubles from the minimum, stays within the cap, and jitters in the upper half", func(t *testing.T) {
		const lo, hi = 100, 1000
		for attempt := range 40 {
			want := min(int64(lo)<<min(attempt, 20), hi)
			for range 50 {
				d := int64(backoff(attempt, lo, hi))
				if d < want/2 || d > want {
					t.Fatalf("attempt %d: %d outside [%d, %d]", attempt, d, want/2, want)
				}
			}
		}
	})
}
