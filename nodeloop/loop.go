package nodeloop

import (
	"context"
	"log/slog"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/install"
)

// DefaultInterval is how often a Loop re-verifies (and repairs) the machines directory when
// its host does not say.
const DefaultInterval = time.Minute

// Loop keeps one machines directory reconciled with the specification a Source delivers. Set
// its fields, then call Run once.
type Loop struct {
	// Config says how to reconcile; Config.Logger also receives the loop's own lines.
	Config machines.Config
	// Source delivers the specification.
	Source Source
	// Interval is how often the directory is re-verified and repaired; 0 means DefaultInterval.
	Interval time.Duration
	// FullVerifyInterval, when positive, re-hashes every installed file this often rather than
	// trusting files whose size, times and inode did not change.
	FullVerifyInterval time.Duration
	// Prepare, when set, adjusts the configuration before each reconcile (a Choria machine's
	// facts change at run time). An error is that pass's refusal: nothing changes.
	Prepare func(cfg *machines.Config) error
	// Active, when set, says whether the loop may reconcile now and, when not, why: the
	// triggers are dropped and logged (a Choria machine outside its states).
	Active func() (ok bool, why string)
	// Wake, when set, asks for a reconcile on every receive (a Choria machine's state changes).
	Wake <-chan struct{}
	// Observers are told of every pass, in order.
	Observers []Observer
	// Staging, when set, stages the changes of entries with a rollout policy (the reconcile
	// asks it, and it wakes the loop); without it such entries are refused.
	Staging *Staging
	// Store, when set, is the machines directory (Config.Dir) the host already holds: mms agent
	// takes it before starting its embedded NATS server, whose files live under it. The loop
	// then neither opens nor closes it. Otherwise the loop opens it when it starts (retrying
	// with backoff while another process holds it) and closes it when Run returns.
	Store *install.Store
}

// Run reconciles until ctx ends, then releases the machines directory. See the package doc
// for what it promises.
func (l *Loop) Run(ctx context.Context) {
	cfg := l.Config
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = LogProgress(cfg.Logger, ProgressAfter, ProgressLogEvery)
	}
	if cfg.Retry == nil {
		// Remember failing downloads across this loop's reconciles, so that a failing source
		// is not retried by every node at every interval.
		cfg.Retry = machines.NewRetryMemory(machines.RetryPolicy{})
	}
	if l.Staging != nil {
		cfg.Rollout = l.Staging
	}
	interval := l.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	r := &runner{
		l:        l,
		cfg:      cfg,
		log:      cfg.Logger.With("source", l.Source.Name()),
		interval: interval,
		pending:  map[Trigger]bool{},
	}
	r.run(ctx)
}
