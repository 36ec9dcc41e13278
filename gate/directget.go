package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrDirectGet means a batched direct get of the gate's stream or bucket was answered with
// something that is not its messages: a status the server gives for a bad request, a server
// too old for batched gets (before 2.11), or a message without the headers that place it.
var ErrDirectGet = errors.New("batched direct get refused")

// The statuses a batched direct get ends with: 204 "EOB" after the last message, 404 when no
// subject matched.
const (
	statusHeader      = "Status"
	descriptionHeader = "Description"
	statusEnd         = "204"
	statusNone        = "404"
	descriptionEnd    = "EOB"
	numPendingHeader  = "Nats-Num-Pending"
)

// lastMsgsRequest is the body of a batched direct get of the last message of each subject
// that subjects match.
type lastMsgsRequest struct {
	MultiLast []string `json:"multi_last"`
	Batch     int      `json:"batch"`
}

// lastMsgs calls each with the last message of every subject of stream that subject matches
// (up to batch of them), in one batched direct get; a stream with none calls it never.
//
// It reads the answers on a subscription of its own whose buffer holds exactly what the
// server may send (batch messages and the end), rather than the 64 Ki-message channel a
// general request for many answers allocates: a fleet's nodes read their gates often.
func (s *Store) lastMsgs(ctx context.Context, stream, subject string, batch int, each func(*jetstream.RawStreamMsg) error) error {
	nc := s.js.Conn()
	body, err := json.Marshal(lastMsgsRequest{MultiLast: []string{subject}, Batch: batch})
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, nc.Opts.Timeout)
		defer cancel()
	}
	answers := make(chan *nats.Msg, batch+2)
	inbox := nc.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, answers)
	if err != nil {
		return fmt.Errorf("batched direct get of %s: %w", stream, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(apiSubject(s.js.Options(), "DIRECT.GET."+stream), inbox, body); err != nil {
		return fmt.Errorf("batched direct get of %s: %w", stream, err)
	}
	for got := 0; ; got++ {
		var m *nats.Msg
		select {
		case <-ctx.Done():
			return fmt.Errorf("batched direct get of %s, after %d messages: %w", stream, got, ctx.Err())
		case m = <-answers:
		}
		raw, done, err := directGetAnswer(m)
		switch {
		case err != nil:
			return fmt.Errorf("batched direct get of %s: %w", stream, err)
		case done:
			return nil
		case got >= batch:
			return fmt.Errorf("batched direct get of %s: %w: more than the %d messages asked", stream, ErrDirectGet, batch)
		}
		if err := each(raw); err != nil {
			return err
		}
	}
}

// directGetAnswer reads one answer of a batched direct get: a stream message, or done at the
// end (or when nothing matched).
func directGetAnswer(m *nats.Msg) (raw *jetstream.RawStreamMsg, done bool, err error) {
	if status := m.Header.Get(statusHeader); status != "" && len(m.Data) == 0 {
		switch {
		case status == statusEnd && m.Header.Get(descriptionHeader) == descriptionEnd, status == statusNone:
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("%w: status %s %q", ErrDirectGet, status, m.Header.Get(descriptionHeader))
	}
	if m.Header.Get(numPendingHeader) == "" {
		return nil, false, fmt.Errorf("%w: the server does not batch direct gets (NATS Server 2.11 or later does)", ErrDirectGet)
	}
	subject := m.Header.Get(jetstream.SubjectHeader)
	if subject == "" {
		return nil, false, fmt.Errorf("%w: a message without its subject", ErrDirectGet)
	}
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("%w: the sequence of %s: %w", ErrDirectGet, subject, err)
	}
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	if err != nil {
		return nil, false, fmt.Errorf("%w: the time of %s: %w", ErrDirectGet, subject, err)
	}
	return &jetstream.RawStreamMsg{Subject: subject, Sequence: seq, Header: m.Header, Data: m.Data, Time: at}, false, nil
}

// apiSubject is the JetStream API subject of api, under the prefix or domain js was made with.
func apiSubject(o jetstream.JetStreamOptions, api string) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "." + api
	case o.Domain != "":
		return "$JS." + o.Domain + ".API." + api
	}
	return "$JS.API." + api
}
