package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/machines/rollout"
)

// ErrNoGate means the gate's stream or bucket does not exist and could not be made.
var ErrNoGate = errors.New("rollout gate not found")

// Options name where the gate lives.
type Options struct {
	// Counters is the counter stream; "" means DefaultCounters.
	Counters string
	// Controls is the control bucket; "" means DefaultControls.
	Controls string
	// Replicas of both, when Ensure creates them; 0 means 1.
	Replicas int
	// MaxAge of both, when Ensure creates them; 0 means DefaultMaxAge.
	MaxAge time.Duration
}

func (o Options) withDefaults() Options {
	if o.Counters == "" {
		o.Counters = DefaultCounters
	}
	if o.Controls == "" {
		o.Controls = DefaultControls
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	return o
}

// Store reads and writes the gate of every change. It is safe for concurrent use.
type Store struct {
	js        jetstream.JetStream
	counters  string
	controls  jetstream.KeyValue
	ctlStream string // the control bucket's stream, for batched reads
}

// Ensure opens the gate, creating its stream and bucket when they do not exist (a node or
// operator allowed to; otherwise the error wraps ErrNoGate and says why).
func Ensure(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if _, err := js.Stream(ctx, opts.Counters); errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:            opts.Counters,
			Description:     "mms staged rollouts: per change and wave, counters the nodes keep",
			Subjects:        []string{subjectRoot + ".>"},
			AllowMsgCounter: true,
			AllowDirect:     true,
			MaxAge:          opts.MaxAge,
			Replicas:        opts.Replicas,
			Storage:         jetstream.FileStorage,
		})
		if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("%w: create stream %s: %w", ErrNoGate, opts.Counters, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %w", ErrNoGate, opts.Counters, err)
	}
	if _, err := js.KeyValue(ctx, opts.Controls); errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      opts.Controls,
			Description: "mms staged rollouts: halts, pauses, signed resumes and promotions",
			History:     5,
			TTL:         opts.MaxAge,
			Replicas:    opts.Replicas,
			Storage:     jetstream.FileStorage,
		})
		if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return nil, fmt.Errorf("%w: create bucket %s: %w", ErrNoGate, opts.Controls, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("%w: bucket %s: %w", ErrNoGate, opts.Controls, err)
	}
	return Open(ctx, js, opts)
}

// Open opens the gate's existing stream and bucket; a missing one is an error wrapping ErrNoGate.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	st, err := js.Stream(ctx, opts.Counters)
	if err != nil {
		return nil, fmt.Errorf("%w: stream %s: %w", ErrNoGate, opts.Counters, err)
	}
	if cfg := st.CachedInfo().Config; !cfg.AllowMsgCounter || !cfg.AllowDirect {
		return nil, fmt.Errorf("%w: stream %s is not a stream of counters with direct gets", ErrNoGate, opts.Counters)
	}
	kv, err := js.KeyValue(ctx, opts.Controls)
	if err != nil {
		return nil, fmt.Errorf("%w: bucket %s: %w", ErrNoGate, opts.Controls, err)
	}
	return &Store{js: js, counters: opts.Counters, controls: kv, ctlStream: "KV_" + opts.Controls}, nil
}

// incrHeader asks a counter stream to add its value to the subject's counter.
const incrHeader = "Nats-Incr"

// counterValue reads a counter message's body, {"val":"<decimal>"}.
func counterValue(data []byte) (int64, error) {
	var body struct {
		Val string `json:"val"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return 0, fmt.Errorf("not a counter value: %w", err)
	}
	v, err := strconv.ParseInt(body.Val, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter value %q: %w", body.Val, err)
	}
	return v, nil
}

// Add adds delta to one counter of a change's wave, as node by. The same addition by the same
// node is counted once (a JetStream message ID, within the stream's duplicate window), so a
// node may send it again when it cannot tell whether it landed.
func (s *Store) Add(ctx context.Context, change string, wave int, k Kind, delta int, by string) error {
	subject := counterSubject(change, wave, k)
	msg := nats.NewMsg(subject)
	msg.Header.Set(incrHeader, strconv.Itoa(delta))
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%d.%s.%+d.%s", change, wave, k, delta, by))
	if _, err := s.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("count %s %+d in wave %d of change %s: %w", k, delta, wave+1, change, err)
	}
	return nil
}

// Tally reads every counter of a change in one batched request: the counts by wave, each with
// when it last changed.
func (s *Store) Tally(ctx context.Context, change string) (rollout.Tally, error) {
	var t rollout.Tally
	err := s.lastMsgs(ctx, s.counters, subjectRoot+"."+change+".>", 5*maxWaves, func(m *jetstream.RawStreamMsg) error {
		wave, k, ok := parseCounterSubject(change, m.Subject)
		if !ok {
			return nil
		}
		v, err := counterValue(m.Data)
		if err != nil {
			return fmt.Errorf("read counter %s: %w", m.Subject, err)
		}
		for len(t) <= wave {
			t = append(t, rollout.WaveCount{})
		}
		w := &t[wave]
		switch k {
		case Members:
			w.Members = v
		case Took:
			w.Took = v
		case Healthy:
			w.Healthy = v
		case Unhealthy:
			w.Unhealthy = v
		case Reverted:
			w.Reverted = v
		}
		if m.Time.After(w.Changed) {
			w.Changed = m.Time
		}
		if (k == Healthy || k == Unhealthy) && m.Time.After(w.HealthChanged) {
			w.HealthChanged = m.Time
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the counters of change %s: %w", change, err)
	}
	return t, nil
}
