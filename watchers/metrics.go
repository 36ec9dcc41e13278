package watchers

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/errs"
)

// Metrics live in Prometheus's default registry, which Choria serves on its statistics port.
// Every series is labelled with the autonomous agent (machine) and watcher names.
var (
	reconcilesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "choria_machines_watcher_reconciles_total",
		Help: "Reconciles of the machines directory, by outcome",
	}, []string{"machine", "watcher", "outcome"})

	actionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "choria_machines_watcher_actions_total",
		Help: "Actions taken for entries and managed machines, by action and failure reason",
	}, []string{"machine", "watcher", "action", "reason"})

	managedMachines = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "choria_machines_watcher_managed_machines",
		Help: "Machines the last accepted specification keeps installed on this node",
	}, []string{"machine", "watcher"})

	reconcileSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "choria_machines_watcher_reconcile_seconds",
		Help:    "Time taken by one reconcile",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
	}, []string{"machine", "watcher"})

	downloadSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "choria_machines_watcher_download_seconds",
		Help:    "Time taken to download, verify and install one archive (install, update, repair)",
		Buckets: prometheus.ExponentialBuckets(0.05, 4, 8),
	}, []string{"machine", "watcher"})
)

func init() {
	prometheus.MustRegister(reconcilesTotal, actionsTotal, managedMachines, reconcileSeconds, downloadSeconds)
}

// reasonFamilies maps error families to the reason label, so that the label's values stay few.
var reasonFamilies = []struct {
	err    error
	reason string
}{
	{errs.ErrSignature, "signature"},
	{errs.ErrInvalidKey, "invalid_key"},
	{errs.ErrRollback, "rollback"},
	{errs.ErrExpired, "expired"},
	{errs.ErrUnsupported, "unsupported"},
	{errs.ErrInvalidSpec, "invalid_spec"},
	{errs.ErrMatcher, "matcher"},
	{errs.ErrFetch, "fetch"},
	{errs.ErrChecksum, "checksum"},
	{errs.ErrUnsafeArchive, "unsafe_archive"},
	{errs.ErrLimit, "limit"},
	{errs.ErrNotManaged, "not_managed"},
	{errs.ErrInsecure, "insecure"},
	{errGovernor, "governor"},
}

// reasonLabel names an error's family for the reason label: "" when there is no error.
func reasonLabel(err error) string {
	if err == nil {
		return ""
	}
	for _, f := range reasonFamilies {
		if errors.Is(err, f.err) {
			return f.reason
		}
	}
	return "other"
}

// recordMetrics counts one reconcile and what it did.
func recordMetrics(machine, watcher string, outcome Summary, r *machines.Report) {
	reconcilesTotal.WithLabelValues(machine, watcher, string(outcome)).Inc()
	if r == nil {
		return
	}
	reconcileSeconds.WithLabelValues(machine, watcher).Observe(r.Duration.Seconds())
	if r.Err != nil {
		actionsTotal.WithLabelValues(machine, watcher, "refuse_specification", reasonLabel(r.Err)).Inc()
		return
	}

	managed := 0
	for _, res := range r.Results {
		reason := reasonLabel(res.Err)
		if res.Action == machines.ActionRefuse && reason == "" {
			reason = "refused"
		}
		actionsTotal.WithLabelValues(machine, watcher, string(res.Action), reason).Inc()

		switch res.Action {
		case machines.ActionInstall, machines.ActionUpdate, machines.ActionRepair:
			if !res.Failed() {
				downloadSeconds.WithLabelValues(machine, watcher).Observe(res.Duration.Seconds())
			}
		}
		switch res.Action {
		case machines.ActionInstall, machines.ActionUpdate, machines.ActionRepair, machines.ActionKeep, machines.ActionAdopt:
			if !res.Failed() {
				managed++
			}
		}
	}
	managedMachines.WithLabelValues(machine, watcher).Set(float64(managed))
}
