package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"time"

	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go/jetstream"
)

// publishTimeout bounds one publish of a status.
const publishTimeout = 5 * time.Second

// keyRe is what a node identity must look like to be its own key: a KV key's characters,
// without a leading or trailing dot.
var keyRe = regexp.MustCompile(`^[-_=a-zA-Z0-9]([-_=.a-zA-Z0-9]*[-_=a-zA-Z0-9])?$`)

// Key is the key of identity's status in the bucket: the identity itself when it can be a
// key (an FQDN can), otherwise "id-" and a hash of it. Readers take the identity from the
// status, never from the key.
func Key(identity string) string {
	if keyRe.MatchString(identity) {
		return identity
	}
	sum := sha256.Sum256([]byte(identity))
	return "id-" + hex.EncodeToString(sum[:16])
}

// Publisher publishes a node's status: it is a nodeloop.Observer, told of every pass, and
// Run sends what changed at once and the unchanged status every heartbeat. A status that
// cannot be published is logged and tried again; the node reconciles on regardless.
type Publisher struct {
	subject   string
	reporter  *Reporter
	heartbeat time.Duration
	log       *slog.Logger
	changed   chan struct{}
}

// NewPublisher returns a Publisher of reporter's status to bucket, logging to log. It takes
// outcomes at once; Run publishes them once the host has a JetStream connection.
func NewPublisher(bucket string, reporter *Reporter, log *slog.Logger) *Publisher {
	heartbeat := reporter.Heartbeat
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{subject: "$KV." + bucket + "." + Key(reporter.Identity), reporter: reporter,
		heartbeat: heartbeat, log: log, changed: make(chan struct{}, 1)}
}

// Observe implements nodeloop.Observer: it takes the outcome and wakes Run.
func (p *Publisher) Observe(o nodeloop.Outcome) {
	p.reporter.Observe(o)
	p.Changed()
}

// Changed wakes Run to publish the status now: something it reads besides the outcomes
// changed (a staged change became healthy here; nodeloop.Staging.OnChange).
func (p *Publisher) Changed() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Run publishes over js until ctx ends: at once, whenever an outcome changed what the status
// says, and every heartbeat.
func (p *Publisher) Run(ctx context.Context, js jetstream.JetStream) {
	tick := time.NewTicker(p.heartbeat)
	defer tick.Stop()
	var last []byte // the last status published, without its time
	failing := false
	// A heartbeat is acknowledged, so that a node learns when its status does not land; a
	// change is sent without waiting for the acknowledgement (a rollout changes every node
	// at once), and the next heartbeat confirms it.
	send := func(heartbeat bool) {
		s := p.reporter.Status(time.Now())
		same, err := json.Marshal(withoutTime(s))
		if err != nil {
			p.log.Error("could not encode this node's status", "error", err)
			return
		}
		if !heartbeat && string(same) == string(last) {
			return
		}
		if err := p.publish(ctx, js, s, heartbeat || failing); err != nil {
			if !failing {
				p.log.Warn("could not publish this node's status; reconciling goes on, and it is tried again", "subject", p.subject, "error", err)
			}
			failing = true
			return
		}
		if failing {
			p.log.Info("this node's status is published again", "subject", p.subject)
		}
		failing, last = false, same
	}
	// What a status says can change without an outcome when the host reports machine states
	// (a Choria machine that an install started reaches its state): then look again every
	// few seconds, publishing only a change.
	var looks <-chan time.Time
	if p.reporter.State != nil {
		look := time.NewTicker(min(p.heartbeat, lookEvery))
		defer look.Stop()
		looks = look.C
	}
	send(true)
	// A change a whole fleet makes at once (a rollout) would have every node publish in the
	// same instant, on the servers that are delivering the rollout: a change is published
	// after a random wait of up to spread, while heartbeats go on.
	spread := min(ChangeSpread, p.heartbeat/4)
	var pending <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.changed:
			if pending == nil {
				pending = time.After(rand.N(spread + 1))
			}
		case <-pending:
			pending = nil
			send(false)
		case <-looks:
			send(false)
		case <-tick.C:
			send(true)
		}
	}
}

// ChangeSpread is the longest a node waits, at random, before it publishes a changed status.
const ChangeSpread = time.Second

// lookEvery is how often a Publisher looks for a change no outcome announced.
const lookEvery = 2 * time.Second

// withoutTime is s as it compares for a change: without the times and triggers every pass
// renews, so that an interval that changed nothing publishes nothing.
func withoutTime(s Status) Status {
	s.ReportedAt, s.LastReconcile, s.Trigger = time.Time{}, time.Time{}, ""
	if s.Refused != nil {
		r := *s.Refused
		r.At = time.Time{}
		s.Refused = &r
	}
	return s
}

// publish sends s to the node's key, waiting for JetStream's acknowledgement when acked.
func (p *Publisher) publish(ctx context.Context, js jetstream.JetStream, s Status, acked bool) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	if !acked {
		if err := js.Conn().Publish(p.subject, data); err != nil {
			return fmt.Errorf("publish to %s: %w", p.subject, err)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := js.Publish(ctx, p.subject, data); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			return fmt.Errorf("publish to %s: %w (does the status bucket exist? mms put creates it)", p.subject, err)
		}
		return fmt.Errorf("publish to %s: %w", p.subject, err)
	}
	return nil
}

// BucketConfig is the status bucket as mms creates it: one value per node, kept for
// retention (0: DefaultRetention) after its last report.
func BucketConfig(bucket string, replicas int, retention time.Duration) jetstream.KeyValueConfig {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if replicas <= 0 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{Bucket: bucket, Description: "mms node statuses, one key per node", History: 1,
		TTL: retention, MaxValueSize: 64 << 10, Replicas: replicas, Storage: jetstream.FileStorage}
}

// EnsureBucket creates the status bucket unless it exists.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) error {
	_, err := js.CreateKeyValue(ctx, cfg)
	if err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
		return fmt.Errorf("create status bucket %s: %w", cfg.Bucket, err)
	}
	return nil
}
