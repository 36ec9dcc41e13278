package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		if err := serveChild(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "fleet: servers' process:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.Nodes, "nodes", 100, "how many nodes to simulate")
	flag.BoolVar(&o.Cluster, "cluster", false, "run a 3-server JetStream cluster with the bucket replicated 3 times instead of one server")
	flag.StringVar(&o.Scenario, "scenario", scenarioRollout, "rollout, update, purge, targeted (matcher true on 10% of the nodes), failover (-cluster: the stream leader is killed after the put), staged-good, staged-bad or staged-pause (a change with a rollout policy: healthy, never healthy, paused after the first wave and resumed)")
	flag.DurationVar(&o.Splay, "splay", 0, "each node's longest random wait before downloading (mms agent --splay)")
	flag.DurationVar(&o.Interval, "interval", time.Hour, "each node's re-verify interval; keep it longer than -idle")
	flag.DurationVar(&o.Idle, "idle", 2*time.Second, "after convergence, count the messages the servers receive over this window (0 skips)")
	flag.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long each phase may take to converge")
	flag.StringVar(&o.Dir, "dir", "", "where to create the nodes' machines directories (default: a temporary directory, removed at the end)")
	flag.BoolVar(&o.Verbose, "v", false, "print the nodes' warnings, not only their errors")
	flag.BoolVar(&o.Status, "status", true, "every node publishes its fleet status, as mms agent does (-status=false for none)")
	flag.StringVar(&o.Source, "source", sourceHTTP, "where the archives come from: http (one loopback HTTP server) or obj (an Object Store bucket, R3 with -cluster, read over each node's own connection)")
	flag.Func("archive-size", "add a file of this many incompressible bytes to every machine archive: bytes, or with KiB or MiB (default: none, ~1 KiB machines)", func(v string) error {
		n, err := parseSize(v)
		o.ArchiveSize = n
		return err
	})
	flag.StringVar(&o.Waves, "waves", defaultWaves, "the staged scenarios' waves, comma-separated cumulative shares")
	flag.StringVar(&o.Bake, "bake", defaultBake, "the staged scenarios' bake: how long a wave stays healthy before the next starts")
	flag.StringVar(&o.Deadline, "deadline", defaultDeadline, "the staged scenarios' healthy_deadline: the bad version is taken back after it")
	flag.DurationVar(&o.RolloutPoll, "rollout-poll", defaultPoll, "each node's rollout_poll: how often a waiting node reads the gate besides the events it watches, and checks the health of a change it took")
	flag.BoolVar(&o.ServerProcess, "server-process", false, "run the NATS servers in a child process and report their CPU apart (server_cpu_s); otherwise cpu_s includes them")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	logFile := flag.String("log", "", "write every node's log, at debug level and timestamped, to this file: a timeline of the run")
	statusOnly := flag.Bool("status-only", false, "no node loops: -nodes writers publish one status each, then mms status --fleet reads them (the reader at scale)")
	flag.Parse()
	if o.Nodes < 1 {
		fmt.Fprintln(os.Stderr, "fleet: -nodes must be at least 1")
		os.Exit(2)
	}
	o.Progress = os.Stderr
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			os.Exit(2)
		}
		o.Log = f // closed by the exit: the handler writes each line whole as it comes
	}
	os.Exit(measure(o, *cpuProfile, *statusOnly))
}

// measure runs what the flags ask, profiling it into cpuProfile when set, and returns the exit
// code: 1 when it failed or an aim was missed. The profile is complete whatever the outcome.
func measure(o options, cpuProfile string, statusOnly bool) int {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if statusOnly {
		if err := runStatusOnly(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		return 0
	}
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(os.Stderr, "AIM MISSED:", p)
	}
	line := rep.line()
	if rep.Extra != "" {
		line += " " + rep.Extra
	}
	fmt.Println(line)
	if len(rep.Problems) > 0 {
		return 1
	}
	return 0
}

// parseSize reads a size in bytes: a number, optionally followed by KiB or MiB.
func parseSize(v string) (int64, error) {
	num, mult := v, int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			num, mult = n, m
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size: write bytes, or a number with KiB or MiB", v)
	}
	return n * mult, nil
}
