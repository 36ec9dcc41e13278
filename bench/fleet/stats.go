package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method:
// the smallest value that at least p% of the values do not exceed. It returns 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int((p/100)*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencies summarises put-to-installed times.
type latencies struct {
	P50, P95, P99, Max time.Duration
}

// summarise sorts a copy of ds and takes its percentiles.
func summarise(ds []time.Duration) latencies {
	s := slices.Clone(ds)
	slices.Sort(s)
	return latencies{P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99), Max: percentile(s, 100)}
}

// result is what one run measured.
type result struct {
	Nodes         int
	Latency       latencies
	Requests      int64
	PeakDownloads int64
	CPUSeconds    float64 // this process: the nodes, the archive server, and the servers unless apart
	RSSMiB        float64
	// ServersApart says the NATS servers ran in a child process, whose own CPU and peak RSS
	// are ServerCPUSeconds and ServerRSSMiB.
	ServersApart     bool
	ServerCPUSeconds float64
	ServerRSSMiB     float64
}

// ms prints a duration in whole milliseconds.
func ms(d time.Duration) int64 { return d.Milliseconds() }

// line is the summary line the program ends with.
func (r result) line() string {
	l := fmt.Sprintf("nodes=%d p50=%d p95=%d p99=%d max=%d requests=%d peak_downloads=%d cpu_s=%.2f rss_mb=%.0f",
		r.Nodes, ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99), ms(r.Latency.Max),
		r.Requests, r.PeakDownloads, r.CPUSeconds, r.RSSMiB)
	if r.ServersApart {
		l += fmt.Sprintf(" server_cpu_s=%.2f server_rss_mb=%.0f", r.ServerCPUSeconds, r.ServerRSSMiB)
	}
	return l
}
