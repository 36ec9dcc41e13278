package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mms-io/mms/embednats"
	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
	"github.com/mms-io/mms/nodeloop"
	"github.com/mms-io/mms/objstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sourceBucket is the Object Store bucket the large archive is published to.
const sourceBucket = "ARCHIVES"

// fromSources installs the large machine in this process from the loopback HTTP server and
// from the Object Store of an embedded NATS server, side by side in alternating rounds, each
// into a fresh directory with the archive cache off: machines.Reconcile with the settings and
// the obj:// source a node has (nodeloop.DefaultSettings, nodeloop.UseObjectStore). Both
// servers run in this process, so the CPU time counts them too.
func (b *bench) fromSources() error {
	l, err := b.large()
	if err != nil {
		return err
	}
	srv, err := embednats.Start(embednats.Options{StoreDir: filepath.Join(b.work, "nats"), MaxStore: 4 * (b.opt.sizeMiB + 64) << 20})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	archive, err := os.Open(filepath.Join(b.serve, "big.tgz"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	_, err = objstore.Publish(ctx, js, sourceBucket, "big.tgz", archive, 1)
	archive.Close()
	if err != nil {
		return err
	}
	fromStore := l.entry
	fromStore.Source = objstore.Ref{Bucket: sourceBucket, Name: "big.tgz"}.String()
	objSpec, err := b.writeSpec(fromStore)
	if err != nil {
		return err
	}

	fmt.Printf("\n== install in process: from the Object Store of an embedded NATS server vs from loopback HTTP (%d rounds, alternating) ==\n", b.opt.rounds)
	var objWall, httpWall, objCPU, httpCPU []time.Duration
	var ratios []float64
	for round := 1; round <= b.opt.rounds; round++ {
		order := []string{"http", "obj"}
		if round%2 == 0 {
			order = []string{"obj", "http"}
		}
		got := map[string][2]time.Duration{}
		for _, source := range order {
			path := l.spec
			if source == "obj" {
				path = objSpec
			}
			wall, cpu, err := b.installInProcess(js, path)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, source, err)
			}
			got[source] = [2]time.Duration{wall, cpu}
		}
		o, h := got["obj"], got["http"]
		objWall, objCPU = append(objWall, o[0]), append(objCPU, o[1])
		httpWall, httpCPU = append(httpWall, h[0]), append(httpCPU, h[1])
		ratio := float64(o[0]) / float64(h[0])
		ratios = append(ratios, ratio)
		fmt.Printf("round %d (%s first): obj %s (CPU %s)  http %s (CPU %s)  obj/http %.2f\n",
			round, order[0], ms(o[0]), ms(o[1]), ms(h[0]), ms(h[1]), ratio)
	}
	fmt.Printf("median: obj %s (CPU %s)  http %s (CPU %s)  obj/http %.2f\n",
		ms(median(objWall)), ms(median(objCPU)), ms(median(httpWall)), ms(median(httpCPU)), median(ratios))
	return nil
}

// installInProcess reconciles a fresh directory with the specification at path, as a node
// configured by default (the cache off), and returns the wall and CPU time it took.
func (b *bench) installInProcess(js jetstream.JetStream, path string) (time.Duration, time.Duration, error) {
	env, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp(b.work, "in-process-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	cfg := machines.Config{Dir: dir, Trust: spec.Trust{Keys: []ed25519.PublicKey{b.priv.Public().(ed25519.PublicKey)}}}
	nodeloop.DefaultSettings().Apply(&cfg)
	cfg.Splay, cfg.CacheMaxBytes = 0, 0
	if err := nodeloop.UseObjectStore(&cfg, js, ""); err != nil {
		return 0, 0, err
	}
	syncDisk()
	cpu0 := processCPU()
	start := time.Now()
	rep := machines.Reconcile(context.Background(), cfg, env)
	wall, cpu := time.Since(start), processCPU()-cpu0
	if rep.Err != nil || rep.Failed() || !rep.Changed() {
		return 0, 0, fmt.Errorf("install: %v %+v", rep.Err, rep.Results)
	}
	return wall, cpu, nil
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
