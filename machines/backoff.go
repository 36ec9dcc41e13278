package machines

import (
	"context"
	"crypto/sha256"
	"fmt"
	"github.com/mms-io/mms/internal/backoff"
	"strings"
	"sync"
	"time"
)

// Retry defaults: how long a node waits before downloading an entry again after it failed.
const (
	// DefaultRetryMin is the wait after the first failure, before jitter.
	DefaultRetryMin = 30 * time.Second
	// DefaultRetryMax caps the wait between attempts, before jitter.
	DefaultRetryMax = 30 * time.Minute
)

// RetryPolicy says how long to wait before downloading an entry again after it failed: Min
// after the first failure, doubled after each further one, capped at Max, then jittered to a
// random duration between half of it and all of it, so that a fleet does not retry in step.
type RetryPolicy struct {
	// Min is the wait after the first failure; 0 means DefaultRetryMin.
	Min time.Duration
	// Max caps the wait; 0 means DefaultRetryMax.
	Max time.Duration
}

// RetryMemory remembers, across reconciles of one machines directory, which entries failed to
// download and when each may be attempted again, so that a failing source is not hammered by
// every node at every interval. An entry's memory is forgotten when it installs, and when the
// entry changes (source, credentials or checksums): a new entry is attempted at once.
// It is safe for concurrent use; a nil *RetryMemory remembers nothing.
type RetryMemory struct {
	policy  RetryPolicy
	mu      sync.Mutex
	entries map[string]retryState
}

// retryState is what RetryMemory holds for one entry.
type retryState struct {
	fingerprint [sha256.Size]byte // of the entry as it failed
	failures    int
	next        time.Time // no attempt before this
	last        error     // the last failure
}

// NewRetryMemory returns an empty memory that waits as p says.
func NewRetryMemory(p RetryPolicy) *RetryMemory {
	if p.Min <= 0 {
		p.Min = DefaultRetryMin
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	if p.Max < p.Min {
		p.Max = p.Min
	}
	return &RetryMemory{policy: p, entries: map[string]retryState{}}
}

// hold returns an error when step's entry failed before and its next attempt is not due yet;
// nil lets the download go ahead.
func (m *RetryMemory) hold(step Step, now time.Time) error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.entries[step.Name]
	switch {
	case !ok:
		return nil
	case st.fingerprint != fingerprint(step):
		delete(m.entries, step.Name) // the entry changed: a fresh start
		return nil
	case !now.Before(st.next):
		return nil
	}
	return fmt.Errorf("%s %q: not attempted again before %s, after %d failed attempts; last: %w",
		step.Action, step.Name, st.next.UTC().Format(time.RFC3339), st.failures, st.last)
}

// record remembers the outcome of a download of step's entry: err nil forgets the entry, a
// failure pushes its next attempt back, and returns when that is. A download cut short by ctx
// is not a failure. It returns zero when it remembers nothing.
func (m *RetryMemory) record(ctx context.Context, step Step, err error, now time.Time) time.Time {
	if m == nil || (err != nil && ctx.Err() != nil) {
		return time.Time{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.entries, step.Name)
		return time.Time{}
	}
	fp := fingerprint(step)
	st := m.entries[step.Name]
	if st.fingerprint != fp {
		st = retryState{fingerprint: fp}
	}
	st.failures++
	st.last = err
	st.next = now.Add(m.policy.wait(st.failures))
	m.entries[step.Name] = st
	return st.next
}

// wait is the jittered wait after the given number of consecutive failures (1 or more).
func (p RetryPolicy) wait(failures int) time.Duration {
	return backoff.Jittered(failures-1, p.Min, p.Max)
}

// fingerprint identifies an entry as far as downloading it goes; the password enters only
// through the hash.
func fingerprint(step Step) [sha256.Size]byte {
	e := step.Entry
	return sha256.Sum256([]byte(strings.Join([]string{
		e.Source, e.Username, e.Password, e.Checksum, e.VerifyChecksum,
	}, "\x00")))
}
