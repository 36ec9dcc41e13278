package nodeloop

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mms-io/mms/gate"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
)

// marksName is the file in DIR/.mms where a node remembers its staged changes.
const marksName = "rollouts.json"

// NewStaging returns the staged-rollout controller of a host running cfg (its trusted keys and
// keyring, its machines directory, its logger) as identity: health checks what the host installed, quiet
// is the fleet status's freshness (fleet.FreshFor), poll the rollout_poll setting. The host
// gives it the gate with UseGate and hands it to Loop.Staging.
func NewStaging(cfg machines.Config, identity string, health HealthFunc, quiet, poll time.Duration) *Staging {
	s := &Staging{Identity: identity, Keys: cfg.Trust.Keys, Health: health, Quiet: quiet, Poll: poll,
		Marks: &Marks{Path: install.StatePathFor(cfg.Dir, marksName)}, Logger: cfg.Logger}
	if k, ok := cfg.Keyring.(KeyringHolder); ok {
		s.Keyring = k
	}
	return s
}

// UseGate gives s the gate over js, creating its stream and bucket where the connection may;
// with js nil, why says why there is none yet. It does nothing once s has a gate: hosts call
// it before every reconcile until one is up.
func (s *Staging) UseGate(ctx context.Context, js jetstream.JetStream, why string) {
	s.mu.Lock()
	has := s.store != nil
	s.mu.Unlock()
	if has {
		return
	}
	if js == nil {
		s.SetGate(nil, why)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	g, err := gate.Ensure(ctx, js, gate.Options{})
	if err != nil {
		s.SetGate(nil, err.Error())
		s.mu.Lock()
		s.retry = js // Admit tries again, at most every Poll
		s.mu.Unlock()
		return
	}
	s.SetGate(g, "")
}

// retryGate opens the gate again when UseGate could not, at most every Poll.
func (s *Staging) retryGate() {
	s.mu.Lock()
	js, due := s.retry, s.Now().After(s.retryAt)
	if js == nil || s.store != nil || !due {
		s.mu.Unlock()
		return
	}
	s.retry, s.retryAt = nil, s.Now().Add(s.Poll)
	s.mu.Unlock()
	s.UseGate(context.Background(), js, "")
}
