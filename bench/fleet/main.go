package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"
)

func main() {
	var o options
	flag.IntVar(&o.Nodes, "nodes", 100, "how many nodes to simulate")
	flag.BoolVar(&o.Cluster, "cluster", false, "run a 3-server JetStream cluster with the bucket replicated 3 times instead of one server")
	flag.StringVar(&o.Scenario, "scenario", scenarioRollout, "rollout, update, purge, targeted (matcher true on 10% of the nodes) or failover (-cluster: the stream leader is killed after the put)")
	flag.DurationVar(&o.Splay, "splay", 0, "each node's longest random wait before downloading (mms agent --splay)")
	flag.DurationVar(&o.Interval, "interval", time.Hour, "each node's re-verify interval; keep it longer than -idle")
	flag.DurationVar(&o.Idle, "idle", 2*time.Second, "after convergence, count the messages the servers receive over this window (0 skips)")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long each phase may take to converge")
	flag.StringVar(&o.Dir, "dir", "", "where to create the nodes' machines directories (default: a temporary directory, removed at the end)")
	flag.BoolVar(&o.Verbose, "v", false, "print the nodes' warnings, not only their errors")
	flag.BoolVar(&o.Status, "status", true, "every node publishes its fleet status, as mms agent does (-status=false for none)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	statusOnly := flag.Bool("status-only", false, "no node loops: -nodes writers publish one status each, then mms status --fleet reads them (the reader at scale)")
	flag.Parse()
	if o.Nodes < 1 {
		fmt.Fprintln(os.Stderr, "fleet: -nodes must be at least 1")
		os.Exit(2)
	}
	o.Progress = os.Stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *statusOnly {
		if err := runStatusOnly(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(1)
		}
		return
	}
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(os.Stderr, "AIM MISSED:", p)
	}
	fmt.Println(rep.line())
	if len(rep.Problems) > 0 {
		os.Exit(1)
	}
}
