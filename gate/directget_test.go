package gate

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// countEveryKind counts once every counter of the first waves of change.
func countEveryKind(t testing.TB, g *Store, change string, waves int) {
	t.Helper()
	ctx := context.Background()
	for w := range waves {
		for k := range kinds {
			if err := g.Add(ctx, change, w, k, w+1, "node"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestATallyOfEveryWaveAndKindIsReadWhole(t *testing.T) {
	g, _ := openGate(t)
	change := ChangeID("web", strings.Repeat("e", 64))
	countEveryKind(t, g, change, maxWaves)
	tally, err := g.Tally(context.Background(), change)
	if err != nil {
		t.Fatal(err)
	}
	if len(tally) != maxWaves {
		t.Fatalf("read %d waves of %d", len(tally), maxWaves)
	}
	for w, c := range tally {
		n := int64(w + 1)
		if c.Members != n || c.Took != n || c.Healthy != n || c.Unhealthy != n || c.Reverted != n || c.Changed.IsZero() {
			t.Fatalf("wave %d reads %+v, want every counter %d", w+1, c, n)
		}
	}
}

func TestABatchedGetOfAMissingStreamFailsAtOnce(t *testing.T) {
	g, _ := openGate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := g.lastMsgs(ctx, "NO_SUCH_STREAM", ">", 4, func(*jetstream.RawStreamMsg) error {
		t.Fatal("a message from a stream that does not exist")
		return nil
	})
	if !errors.Is(err, ErrDirectGet) || ctx.Err() != nil {
		t.Fatalf("lastMsgs of a missing stream = %v (context: %v), want ErrDirectGet before the deadline", err, ctx.Err())
	}
}

func TestABatchedGetStopsAtItsDeadline(t *testing.T) {
	g, js := openGate(t)
	// A responder that never answers stands where the stream's direct gets would.
	sub, err := js.Conn().Subscribe(apiSubject(js.Options(), "DIRECT.GET.SILENT"), func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = g.lastMsgs(ctx, "SILENT", ">", 4, func(*jetstream.RawStreamMsg) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lastMsgs with nobody answering = %v, want the deadline", err)
	}
}

func TestABatchedGetPassesOnTheCallersError(t *testing.T) {
	g, _ := openGate(t)
	change := ChangeID("web", strings.Repeat("f", 64))
	countEveryKind(t, g, change, maxWaves)
	stop := errors.New("enough")
	calls := 0
	err := g.lastMsgs(context.Background(), g.counters, subjectRoot+"."+change+".>", 5*maxWaves, func(*jetstream.RawStreamMsg) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("lastMsgs = %v after %d calls, want the caller's error after one", err, calls)
	}
}

func TestAPIPrefixAndDomain(t *testing.T) {
	for _, c := range []struct {
		o    jetstream.JetStreamOptions
		want string
	}{
		{jetstream.JetStreamOptions{}, "$JS.API.DIRECT.GET.S"},
		{jetstream.JetStreamOptions{Domain: "hub"}, "$JS.hub.API.DIRECT.GET.S"},
		{jetstream.JetStreamOptions{APIPrefix: "x.api."}, "x.api.DIRECT.GET.S"},
		{jetstream.JetStreamOptions{APIPrefix: "x.api"}, "x.api.DIRECT.GET.S"},
	} {
		if got := apiSubject(c.o, "DIRECT.GET.S"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
}

func FuzzDirectGetAnswer(f *testing.F) {
	f.Add("", "", "", "", "", "", "", []byte(`{"val":"1"}`))
	f.Add("204", "EOB", "", "", "", "", "", []byte{})
	f.Add("404", "Message Not Found", "", "", "", "", "", []byte{})
	f.Add("408", "Bad Request", "", "", "", "", "", []byte{})
	f.Add("", "", "0", "S", "mms.rollout.x.0.took", "7", "2026-12-02T10:00:00.123456789Z", []byte(`{"val":"1"}`))
	f.Add("", "", "0", "S", "mms.rollout.x.0.took", "-7", "yesterday", []byte(`{}`))
	f.Fuzz(func(t *testing.T, status, desc, pending, stream, subject, seq, ts string, data []byte) {
		m := nats.NewMsg("_INBOX.x")
		m.Data = data
		for k, v := range map[string]string{statusHeader: status, descriptionHeader: desc, numPendingHeader: pending,
			jetstream.StreamHeader: stream, jetstream.SubjectHeader: subject, jetstream.SequenceHeader: seq, jetstream.TimeStampHeaer: ts} {
			if v != "" {
				m.Header.Set(k, v)
			}
		}
		raw, done, err := directGetAnswer(m)
		switch {
		case err != nil:
			if raw != nil || done || !errors.Is(err, ErrDirectGet) {
				t.Fatalf("an error %v with %+v, done %v; want nothing else and ErrDirectGet", err, raw, done)
			}
		case done:
			if raw != nil || len(data) != 0 || status == "" {
				t.Fatalf("done with %+v for status %q and %d bytes", raw, status, len(data))
			}
		default:
			n, _ := strconv.ParseUint(seq, 10, 64)
			if raw == nil || raw.Subject != subject || subject == "" || pending == "" || raw.Sequence != n || string(raw.Data) != string(data) {
				t.Fatalf("read %+v from subject %q, sequence %q, time %q", raw, subject, seq, ts)
			}
		}
	})
}

// BenchmarkTally reads the tally of a change of four waves (20 counters), as a node does, with
// the gate's own batched direct get and, side by side, with jetstreamext.GetLastMsgsFor (whose
// request for many answers allocates a channel of 64 Ki messages each time).
func BenchmarkTally(b *testing.B) {
	g, js := openGate(b)
	change := ChangeID("web", strings.Repeat("9", 64))
	const waves = 4
	countEveryKind(b, g, change, waves)
	subject := subjectRoot + "." + change + ".>"
	ctx := context.Background()
	b.Run("gate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := g.lastMsgs(ctx, g.counters, subject, 5*maxWaves, func(*jetstream.RawStreamMsg) error { n++; return nil }); err != nil || n != 5*waves {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("jetstreamext", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			msgs, err := jetstreamext.GetLastMsgsFor(ctx, js, g.counters, []string{subject}, jetstreamext.GetLastMsgsBatchSize(5*maxWaves))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, err := range msgs {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 5*waves {
				b.Fatal(n)
			}
		}
	})
}
