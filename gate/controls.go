package gate

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines/rollout"
	"github.com/mms-io/mms/machines/spec"
)

// Action is what a control asks of a change.
type Action string

// The controls.
const (
	// ActionHalt stops a change for good (until a new specification changes the entry); the
	// first node to see the failure budget exceeded writes it.
	ActionHalt Action = "halt"
	// ActionPause stops the next waves; anyone who can write the bucket may pause.
	ActionPause Action = "pause"
	// ActionResume lifts an earlier pause; only signed by a trusted key.
	ActionResume Action = "resume"
	// ActionPromote opens the waves up to Wave at once; only signed by a trusted key.
	ActionPromote Action = "promote"
	// ActionReady is a hint, written by the nodes, that wave Wave (1-based) may open at At: the
	// waves before it have all reported, the last of them at At less the bake. Nodes of that
	// wave open then, rather than polling, unless they heard of a halt or pause. A hint only
	// moves later: one that says no later a moment than the hint there is not written.
	ActionReady Action = "ready"
)

// signed are the actions that let a rollout go further, which only a trusted key may ask.
var signed = map[Action]bool{ActionResume: true, ActionPromote: true}

// Control is one word on a change, as the control bucket holds it (inside a Signed).
type Control struct {
	Action Action `json:"action"`
	// Change is the ChangeID it is for; a control for another change is refused.
	Change string `json:"change"`
	// Entry names the machine, for people.
	Entry string `json:"entry,omitempty"`
	// Wave is, for a promotion, the last wave (1-based) to open.
	Wave int `json:"wave,omitempty"`
	// By says who, Reason why; At when.
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Signed is the value of a control key: the control's exact JSON and, for resume and promote,
// the hex ed25519 signature of those bytes.
type Signed struct {
	Control   json.RawMessage `json:"control"`
	Signature string          `json:"signature,omitempty"`
}

// SignControl encodes c, signed with key when key is not nil.
func SignControl(c Control, key ed25519.PrivateKey) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	v := Signed{Control: raw}
	if key != nil {
		if v.Signature, err = spec.Sign(key, raw); err != nil {
			return nil, fmt.Errorf("sign the %s of change %s: %w", c.Action, c.Change, err)
		}
	}
	return json.Marshal(v)
}

// controlKey is the key of change's control of action a.
func controlKey(change string, a Action) string { return change + "." + string(a) }

// readyKey is the key of the hint that wave (1-based) of change may open.
func readyKey(change string, wave int) string {
	return fmt.Sprintf("%s.%s.%d", change, ActionReady, wave)
}

// Put writes a control: a pause or halt as it is, a resume or promotion as signed by SignControl.
// A halt is written only once: the first reason stays, and a later one is an error wrapping
// ErrHalted.
func (s *Store) Put(ctx context.Context, c Control, key ed25519.PrivateKey) error {
	if signed[c.Action] && key == nil {
		return fmt.Errorf("%s change %s: %w", c.Action, c.Change, ErrUnsigned)
	}
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	value, err := SignControl(c, key)
	if err != nil {
		return err
	}
	k := controlKey(c.Change, c.Action)
	if c.Action == ActionReady {
		k = readyKey(c.Change, c.Wave)
	}
	switch c.Action {
	case ActionHalt:
		_, err = s.controls.Create(ctx, k, value)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("halt change %s: %w", c.Change, ErrHalted)
		}
	case ActionReady:
		err = s.hint(ctx, k, value, c.At)
	default:
		_, err = s.controls.Put(ctx, k, value)
	}
	if err != nil {
		return fmt.Errorf("write the %s of change %s: %w", c.Action, c.Change, err)
	}
	return nil
}

// hintTries bounds how often a hint is written again when another node's hint came between
// its read and its write.
const hintTries = 3

// hint writes the ready hint value, for the moment at, under key k unless the hint there
// already says at or later. The reports that complete a wave come together, and every node
// hears every hint written: a hint that tells nothing new is not written at all, rather than
// heard by the whole fleet once per reporter.
func (s *Store) hint(ctx context.Context, k string, value []byte, at time.Time) error {
	for range hintTries {
		e, err := s.controls.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound): // none yet, or deleted
			_, err = s.controls.Create(ctx, k, value)
		case err != nil:
			return err
		default:
			if there, ok := eventOf(k, e.Value()); ok && !there.At.Before(at) {
				return nil
			}
			_, err = s.controls.Update(ctx, k, value, e.Revision())
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return err // written, or failed
		}
		// Another node's hint came in between: look at it.
	}
	return fmt.Errorf("other nodes' hints kept coming in between, %d times", hintTries)
}

// ErrHalted means a halt was asked of a change another node had halted already: the first
// reason stays.
var ErrHalted = errors.New("already halted")

// ErrUnsigned means a control that lets a rollout go further is not signed by a trusted key.
var ErrUnsigned = errors.New("a resume or promotion must be signed by a trusted key")

// Controls reads every control of a change in one batched request. A resume or promotion is
// taken only when one of keys signed it (or when no key is trusted at all, as the node takes
// unsigned specifications then); the others are returned in refused, to be logged.
func (s *Store) Controls(ctx context.Context, change string, keys []ed25519.PublicKey) (c rollout.Controls, refused []string, err error) {
	prefix := "$KV." + strings.TrimPrefix(s.ctlStream, "KV_") + "."
	err = s.lastMsgs(ctx, s.ctlStream, prefix+change+".*", 16, func(m *jetstream.RawStreamMsg) error {
		if op := m.Header.Get("KV-Operation"); op == "DEL" || op == "PURGE" {
			return nil
		}
		ctl, why := decodeControl(change, strings.TrimPrefix(m.Subject, prefix), m.Data, keys)
		if why != "" {
			refused = append(refused, why)
			return nil
		}
		note := &rollout.Note{By: ctl.By, Reason: ctl.Reason, At: ctl.At}
		switch ctl.Action {
		case ActionHalt:
			c.Halted = note
		case ActionPause:
			c.Paused = note
		case ActionResume:
			c.Resumed = note
		case ActionPromote:
			c.PromotedTo = ctl.Wave
		}
		return nil
	})
	if err != nil {
		return rollout.Controls{}, nil, fmt.Errorf("read the controls of change %s: %w", change, err)
	}
	return c, refused, nil
}

// decodeControl reads the control at key, saying why it is refused ("" when it is not).
func decodeControl(change, key string, data []byte, keys []ed25519.PublicKey) (Control, string) {
	var v Signed
	var c Control
	if err := json.Unmarshal(data, &v); err != nil {
		return c, fmt.Sprintf("control %s is not one: %v", key, err)
	}
	if err := json.Unmarshal(v.Control, &c); err != nil {
		return c, fmt.Sprintf("control %s is not one: %v", key, err)
	}
	switch {
	case key != controlKey(change, c.Action) || c.Change != change:
		return c, fmt.Sprintf("control %s says it is a %s of change %s", key, c.Action, c.Change)
	case c.Action == ActionPromote && c.Wave < 1:
		return c, fmt.Sprintf("control %s promotes to wave %d", key, c.Wave)
	case signed[c.Action] && len(keys) > 0:
		if _, err := spec.VerifySignature(keys, v.Control, v.Signature); err != nil {
			return c, fmt.Sprintf("%s of change %s refused: %v", c.Action, change, err)
		}
	}
	return c, ""
}

// Event is one control written for a change, as Watch tells it.
type Event struct {
	Change string
	Action Action
	// Wave is a ready hint's or a promotion's (1-based); At when the control says it was
	// written (for a ready hint, when the wave opens); By and Reason as it says.
	Wave       int
	At         time.Time
	By, Reason string
}

// Watch tells of every control written from now on, until ctx ends: the nodes learn of a halt,
// a pause, a resume or a wave ready to open the moment it is written, without polling. It does
// not verify signatures: an Event only says when to read the gate again.
func (s *Store) Watch(ctx context.Context) (<-chan Event, error) {
	w, err := s.controls.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("watch the rollout controls: %w", err)
	}
	return kvspec.Pump(ctx, w, func(e jetstream.KeyValueEntry) (Event, bool) {
		if e.Operation() != jetstream.KeyValuePut {
			return Event{}, false
		}
		return eventOf(e.Key(), e.Value())
	}), nil
}

// eventOf reads the control at key; ok is false for what is not one.
func eventOf(key string, value []byte) (Event, bool) {
	change, rest, ok := strings.Cut(key, ".")
	if !ok {
		return Event{}, false
	}
	var v Signed
	var c Control
	if json.Unmarshal(value, &v) != nil || json.Unmarshal(v.Control, &c) != nil || c.Change != change {
		return Event{}, false
	}
	switch {
	case c.Action == ActionReady && rest == fmt.Sprintf("%s.%d", ActionReady, c.Wave):
	case rest != string(c.Action):
		return Event{}, false
	}
	return Event{Change: change, Action: c.Action, Wave: c.Wave, At: c.At, By: c.By, Reason: c.Reason}, true
}
