package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mms-io/mms/fleet"
	"github.com/mms-io/mms/internal/buildinfo"
	"github.com/mms-io/mms/kvspec"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/nodeloop"
	"github.com/nats-io/nats.go/jetstream"
)

// statusRounds is how many times the reader is measured; the median is reported.
const statusRounds = 5

// statusWriterConns is how many connections the status-only writers share.
const statusWriterConns = 16

// runStatusOnly measures the reader at scale: o.Nodes writers each publish one status, as a
// node with two machines would, to the status bucket; then fleet.Read and Summarize (what mms
// status --fleet does) read them in this process, and the mms binary itself reads them.
func runStatusOnly(ctx context.Context, o options) error {
	say := func(format string, a ...any) { fmt.Fprintf(o.Progress, format+"\n", a...) }
	root, err := os.MkdirTemp(o.Dir, "mms-fleet-status-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	srvs, err := startServers(root, o.Cluster)
	if err != nil {
		return err
	}
	defer srvs.shutdown()
	var conns []jetstream.JetStream
	for range statusWriterConns {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		nc, err := kvspec.Connect(cctx, srvs.urls(), "")
		cancel()
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		conns = append(conns, js)
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = fleet.EnsureBucket(bctx, conns[0], fleet.BucketConfig(fleet.DefaultBucket, srvs.replicas(), 0))
	cancel()
	if err != nil {
		return err
	}

	// Write: every writer one status, as a node that installed two machines says it.
	began := time.Now()
	sizes := make([]int, o.Nodes)
	var wg sync.WaitGroup
	errs := make(chan error, statusWriterConns)
	for c := range statusWriterConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			js := conns[c]
			for i := c; i < o.Nodes; i += statusWriterConns {
				data, err := json.Marshal(writerStatus(i))
				if err != nil {
					errs <- err
					return
				}
				sizes[i] = len(data)
				if _, err := js.PublishAsync("$KV."+fleet.DefaultBucket+"."+fleet.Key(identity(i)), data); err != nil {
					errs <- err
					return
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				errs <- ctx.Err()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("publish statuses: %w", err)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	say("published %d statuses (%d bytes each on average) in %s", o.Nodes, total/o.Nodes, time.Since(began).Round(time.Millisecond))

	// Read in this process, as mms status --fleet does.
	var reads []time.Duration
	var allocs []uint64
	for range statusRounds {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		statuses, _, err := fleet.Read(rctx, conns[0], fleet.DefaultBucket)
		cancel()
		if err != nil {
			return err
		}
		sum := fleet.Summarize(statuses, fleet.Target{}, fleet.Filter{}, time.Now())
		if _, err := json.Marshal(sum); err != nil {
			return err
		}
		reads = append(reads, time.Since(t0))
		runtime.ReadMemStats(&m1)
		allocs = append(allocs, m1.TotalAlloc-m0.TotalAlloc)
		if len(sum.Nodes) != o.Nodes {
			return fmt.Errorf("read %d statuses, want %d", len(sum.Nodes), o.Nodes)
		}
	}

	// Read with the mms binary.
	bin := filepath.Join(root, "mms")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/mms-io/mms/cmd/mms").CombinedOutput(); err != nil {
		return fmt.Errorf("build mms: %v\n%s", err, out)
	}
	var walls []time.Duration
	var rss []int64
	for range statusRounds {
		cmd := exec.CommandContext(ctx, bin, "status", "--fleet", "--server", strings.Split(srvs.urls(), ",")[0], "--json")
		t0 := time.Now()
		out, err := cmd.Output()
		walls = append(walls, time.Since(t0))
		var doc struct {
			Nodes []json.RawMessage `json:"nodes"`
		}
		if jerr := json.Unmarshal(out, &doc); jerr != nil || len(doc.Nodes) != o.Nodes {
			return fmt.Errorf("mms status --fleet: %v %v: %d nodes", err, jerr, len(doc.Nodes))
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = append(rss, ru.Maxrss)
		}
	}
	slices.Sort(reads)
	slices.Sort(allocs)
	slices.Sort(walls)
	slices.Sort(rss)
	fmt.Printf("status-only writers=%d status_bytes=%d read_ms=%d read_alloc_mb=%.1f cli_ms=%d cli_rss_mb=%.1f\n",
		o.Nodes, total/o.Nodes, ms(reads[len(reads)/2]), float64(allocs[len(allocs)/2])/(1<<20),
		ms(walls[len(walls)/2]), float64(rss[len(rss)/2])/1024)
	return nil
}

// writerStatus is the status node i would publish after installing two machines.
func writerStatus(i int) fleet.Status {
	r := &fleet.Reporter{Identity: identity(i), Host: "bench/fleet", Version: buildinfo.ModuleVersion(buildinfo.MMSModule), Heartbeat: time.Minute}
	r.Observe(nodeloop.Outcome{Triggers: []nodeloop.Trigger{nodeloop.TriggerSpecification}, Revision: 7,
		Report: &machines.Report{Format: 2, Version: 1764633600000, Signed: true, Started: time.Now(), Results: []machines.Result{
			{Name: "base", Action: machines.ActionKeep, Checksum: strings.Repeat("ab", 32)},
			{Name: "web", Action: machines.ActionInstall, Checksum: strings.Repeat("cd", 32)},
		}}})
	return r.Status(time.Now())
}
