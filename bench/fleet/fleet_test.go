package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary be the servers' child process of -server-process, as the
// program is when it re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		if err := serveChild(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	t.Run("takes the nearest rank of a sorted list", func(t *testing.T) {
		hundred := make([]time.Duration, 100)
		for i := range hundred {
			hundred[i] = time.Duration(i+1) * time.Millisecond
		}
		for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 0.1: time.Millisecond} {
			if got := percentile(hundred, p); got != want {
				t.Errorf("p%v = %s, want %s", p, got, want)
			}
		}
	})
	t.Run("rounds a rank up, so that p99 of ten values is the largest", func(t *testing.T) {
		ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		if got := percentile(ten, 99); got != 10*time.Millisecond {
			t.Fatalf("p99 = %s", got)
		}
		if got := percentile(ten, 50); got != 5*time.Millisecond {
			t.Fatalf("p50 = %s", got)
		}
	})
	t.Run("is zero for no values", func(t *testing.T) {
		if got := percentile(nil, 50); got != 0 {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("summarise sorts a copy and leaves the input alone", func(t *testing.T) {
		in := ms(30, 10, 20)
		l := summarise(in)
		if l.P50 != 20*time.Millisecond || l.Max != 30*time.Millisecond || in[0] != 30*time.Millisecond {
			t.Fatalf("summary %+v, input %v", l, in)
		}
	})
	t.Run("prints the summary line in milliseconds", func(t *testing.T) {
		r := result{Nodes: 3, Latency: summarise(ms(10, 20, 1500)), Requests: 3, PeakDownloads: 2, CPUSeconds: 1.234, RSSMiB: 99.6}
		want := "nodes=3 p50=20 p95=1500 p99=1500 max=1500 requests=3 peak_downloads=2 cpu_s=1.23 rss_mb=100"
		if got := r.line(); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

func TestArchiveServer(t *testing.T) {
	s, err := newArchiveServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	get := func(t *testing.T, url, node string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("User-Agent", userAgentPrefix+node)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	t.Run("serves what was put and counts requests per path and per node", func(t *testing.T) {
		url := s.put("/a.tgz", []byte("archive"))
		if code := get(t, url, "1"); code != 200 {
			t.Fatalf("status %d", code)
		}
		get(t, url, "1")
		get(t, url, "2")
		if code := get(t, s.url+"/missing", "3"); code != 404 {
			t.Fatalf("a missing path answered %d", code)
		}
		c := s.snapshot()
		if c.Total != 4 || c.ByPath["/a.tgz"] != 3 || c.ByNode["1"]["/a.tgz"] != 2 || c.ByNode["2"]["/a.tgz"] != 1 || c.ByNode["3"]["/missing"] != 1 {
			t.Fatalf("counts %+v", c)
		}
	})

	t.Run("records the peak of concurrent downloads", func(t *testing.T) {
		s.reset()
		// A body larger than the socket buffers keeps each handler busy until its client reads.
		url := s.put("/big.tgz", []byte(strings.Repeat("x", 64<<20)))
		const clients = 3
		var started, wg sync.WaitGroup
		release := make(chan struct{})
		started.Add(clients)
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("User-Agent", userAgentPrefix+string(rune('a'+i)))
				resp, err := http.DefaultClient.Do(req)
				started.Done()
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				<-release
				_, _ = io.Copy(io.Discard, resp.Body)
			}()
		}
		started.Wait() // every client has its response headers: every handler is writing
		close(release)
		wg.Wait()
		if c := s.snapshot(); c.Peak != clients || c.Total != clients {
			t.Fatalf("peak %d, total %d; want %d and %d", c.Peak, c.Total, clients, clients)
		}
	})

	t.Run("reset zeroes every counter", func(t *testing.T) {
		s.reset()
		if c := s.snapshot(); c.Total != 0 || c.Peak != 0 || len(c.ByPath) != 0 || len(c.ByNode) != 0 {
			t.Fatalf("counts after reset %+v", c)
		}
	})
}

func TestFleet(t *testing.T) {
	for _, scenario := range []string{scenarioRollout, scenarioUpdate, scenarioPurge, scenarioTargeted} {
		t.Run("converges ten nodes on one server in the "+scenario+" scenario and meets the aims", func(t *testing.T) {
			// Statuses are published in the rollout and purge scenarios, as by mms agent: the
			// idle window must stay silent all the same.
			status := scenario == scenarioRollout || scenario == scenarioPurge
			rep, err := run(context.Background(), options{
				Nodes: 10, Scenario: scenario, Interval: time.Hour, Idle: 200 * time.Millisecond, Timeout: 15 * time.Second, Dir: t.TempDir(), Status: status,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Fatalf("aims missed: %v", rep.Problems)
			}
			wantTargets, wantRequests := 10, int64(10)
			switch scenario {
			case scenarioTargeted:
				wantTargets, wantRequests = 1, 1
			case scenarioPurge:
				wantRequests = 0
			}
			if rep.Targets != wantTargets || rep.Requests != wantRequests || rep.Latency.Max <= 0 || rep.IdleMsgs != 0 {
				t.Fatalf("targets %d, requests %d, max %s, idle messages %d", rep.Targets, rep.Requests, rep.Latency.Max, rep.IdleMsgs)
			}
			if !strings.HasPrefix(rep.line(), "nodes=10 p50=") {
				t.Fatalf("line %q", rep.line())
			}
			if status != (rep.StatusLanded > 0) {
				t.Fatalf("status publishing %v, yet statuses landed after %s", status, rep.StatusLanded)
			}
		})
	}
	for _, scenario := range []string{scenarioRollout, scenarioUpdate, scenarioPurge, scenarioTargeted} {
		t.Run("converges ten nodes reading the Object Store in the "+scenario+" scenario and meets the aims", func(t *testing.T) {
			rep, err := run(context.Background(), options{
				Nodes: 10, Scenario: scenario, Source: sourceObj, Interval: time.Hour, Timeout: 15 * time.Second, Dir: t.TempDir(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Fatalf("aims missed: %v", rep.Problems)
			}
			want := map[string]int64{scenarioRollout: 10, scenarioUpdate: 10, scenarioPurge: 0, scenarioTargeted: 1}[scenario]
			if rep.Requests != want || rep.Consumers != want {
				t.Fatalf("the nodes counted %d reads and the servers %d consumers, want %d", rep.Requests, rep.Consumers, want)
			}
		})
	}
	for _, scenario := range []string{scenarioStagedGood, scenarioStagedBad, scenarioStagedPause} {
		t.Run("stages a change over forty nodes in the "+scenario+" scenario and meets the aims", func(t *testing.T) {
			rep, err := run(context.Background(), options{
				Nodes: 40, Scenario: scenario, Interval: time.Hour, Timeout: 30 * time.Second, Dir: t.TempDir(),
				Waves: "10%,50%,100%", Bake: "300ms", Deadline: "1s", RolloutPoll: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) > 0 {
				t.Fatalf("aims missed: %v", rep.Problems)
			}
			want := map[string]string{scenarioStagedGood: "overhead_ms=", scenarioStagedBad: "installed_max=", scenarioStagedPause: "waves="}[scenario]
			if !strings.Contains(rep.Extra, want) || rep.Latency.Max <= 0 {
				t.Fatalf("line %q %q", rep.line(), rep.Extra)
			}
		})
	}
	t.Run("with the servers in a child process, reports their CPU apart, and installs large archives", func(t *testing.T) {
		root := t.TempDir()
		rep, err := run(context.Background(), options{
			Nodes: 5, Scenario: scenarioRollout, Source: sourceObj, ArchiveSize: 1 << 20, ServerProcess: true,
			Interval: time.Hour, Idle: 200 * time.Millisecond, Timeout: 15 * time.Second, Dir: root,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 || rep.IdleMsgs != 0 {
			t.Fatalf("aims missed: %v; idle messages %d", rep.Problems, rep.IdleMsgs)
		}
		if !rep.ServersApart || rep.ServerCPUSeconds <= 0 || rep.ServerRSSMiB <= 0 || !strings.Contains(rep.line(), " server_cpu_s=") {
			t.Fatalf("servers' usage %v %v %v: %s", rep.ServersApart, rep.ServerCPUSeconds, rep.ServerRSSMiB, rep.line())
		}
		fi, err := os.Stat(root + "/node-4/web/" + payloadFile)
		if err != nil || fi.Size() != 1<<20 {
			t.Fatalf("the installed %s: %v, %v", payloadFile, fi, err)
		}
	})
	t.Run("the status-only mode writes statuses and reads them back, in process and with mms", func(t *testing.T) {
		var progress strings.Builder
		if err := runStatusOnly(context.Background(), options{Nodes: 50, Dir: t.TempDir(), Progress: &progress}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "published 50 statuses") {
			t.Fatalf("progress %q", progress.String())
		}
	})
	t.Run("refuses failover without a cluster, an unknown scenario or source, and an archive size over the limits", func(t *testing.T) {
		for _, o := range []options{
			{Scenario: scenarioFailover}, {Scenario: "stampede"}, {Scenario: scenarioRollout, Source: "ftp"},
			{Scenario: scenarioRollout, ArchiveSize: 200 << 20}, {Scenario: scenarioRollout, Source: sourceObj, ArchiveSize: 65 << 20},
		} {
			o.Nodes = 1
			if _, err := run(context.Background(), o); err == nil {
				t.Errorf("%+v ran", o)
			}
		}
	})
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "1MiB": 1 << 20, "10MiB": 10 << 20, "512KiB": 512 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1MB", "-1", "ten"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) took it", in)
		}
	}
}

// A run that fails, or misses an aim, exits 1: its CPU profile is the one most wanted, and
// must be written whole all the same (it once was left empty by an exit before the profile
// stopped).
func TestAFailedRunStillWritesItsProfile(t *testing.T) {
	path := t.TempDir() + "/cpu.prof"
	if code := measure(options{Nodes: 1, Scenario: "stampede"}, path, false); code != 1 {
		t.Fatalf("an unknown scenario exits %d, want 1", code)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("the profile is %d bytes (%v), want a gzipped profile", len(b), err)
	}
}
