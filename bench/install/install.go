package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/mms-io/mms/machines/spec"
)

// classicScript is the pipeline operators write by hand: download, check the archive's sum,
// unpack, check SHA256SUMS's own sum and every file it lists.
const classicScript = `set -e
cd "$1"
curl -sf -o x.tgz "$2"
echo "$3  x.tgz" | sha256sum -c --quiet -
mkdir dir
tar -xzf x.tgz -C dir
cd "dir/$5"
echo "$4  SHA256SUMS" | sha256sum -c --quiet -
sha256sum -c --quiet SHA256SUMS
`

// large is the large machine's entry and spec, built once.
type large struct {
	entry spec.Entry
	spec  string
}

func (b *bench) large() (large, error) {
	if b.big != nil {
		return *b.big, nil
	}
	src, err := writeBenchMachine(filepath.Join(b.work, "src"), "big", b.opt.files, b.opt.sizeMiB<<20, 1)
	if err != nil {
		return large{}, err
	}
	e, size, err := b.archiveMachine(src, "big")
	if err != nil {
		return large{}, err
	}
	fmt.Printf("large machine: %d files, %d MiB of content (half random, half text), archive %s\n", b.opt.files, b.opt.sizeMiB, mib(size))
	specPath, err := b.writeSpec(e)
	if err != nil {
		return large{}, err
	}
	b.big = &large{e, specPath}
	return *b.big, nil
}

func (b *bench) installVersusClassic() error {
	l, err := b.large()
	if err != nil {
		return err
	}
	fmt.Printf("\n== install from loopback: mms apply vs curl + sha256sum + tar + sha256sum -c (%d rounds, alternating) ==\n", b.opt.rounds)
	if b.against != "" {
		fmt.Printf("(and the mms given with -against, %s, in the same rounds)\n", b.against)
	}
	var mmsWall, classicWall, mmsCPU, classicCPU, otherWall []time.Duration
	var ratios, otherRatios []float64
	var rss []int64
	for i := range b.opt.rounds {
		var m, c, o measured
		runs := []func() error{
			func() error { syncDisk(); var err error; m, err = b.applyFresh(b.mms, l.spec); return err },
			func() error { syncDisk(); var err error; c, err = b.classic(l.entry); return err },
		}
		names := []string{"mms", "classic"}
		if b.against != "" {
			runs = append(runs, func() error { syncDisk(); var err error; o, err = b.applyFresh(b.against, l.spec); return err })
			names = append(names, "against")
		}
		// Round i starts with the i-th runner (mod their number), so each goes first in turn.
		first := i % len(runs)
		for k := range runs {
			if err := runs[(first+k)%len(runs)](); err != nil {
				return err
			}
		}
		ratio := float64(m.wall) / float64(c.wall)
		mmsCPU, classicCPU = append(mmsCPU, m.cpu), append(classicCPU, c.cpu)
		mmsWall, classicWall, ratios, rss = append(mmsWall, m.wall), append(classicWall, c.wall), append(ratios, ratio), append(rss, m.maxRSS)
		line := fmt.Sprintf("round %d (%s first): mms %s (CPU %s, peak RSS %s)  classic %s (CPU %s, largest process %s)  mms/classic %.2f",
			i+1, names[first], ms(m.wall), ms(m.cpu), mib(m.maxRSS), ms(c.wall), ms(c.cpu), mib(c.maxRSS), ratio)
		if b.against != "" {
			otherWall, otherRatios = append(otherWall, o.wall), append(otherRatios, float64(m.wall)/float64(o.wall))
			line += fmt.Sprintf("  against %s (CPU %s, peak RSS %s) mms/against %.2f", ms(o.wall), ms(o.cpu), mib(o.maxRSS), float64(m.wall)/float64(o.wall))
		}
		fmt.Println(line)
	}
	fmt.Printf("median: mms %s (CPU %s)  classic %s (CPU %s)  mms/classic %.2f  CPU mms/classic %.2f  mms peak RSS %s\n",
		ms(median(mmsWall)), ms(median(mmsCPU)), ms(median(classicWall)), ms(median(classicCPU)), median(ratios),
		float64(median(mmsCPU))/float64(median(classicCPU)), mib(median(rss)))
	if b.against != "" {
		fmt.Printf("median: against %s  mms/against %.2f\n", ms(median(otherWall)), median(otherRatios))
	}
	b.largeRSS, b.largeSpec = median(rss), l.spec
	return nil
}

// classic runs classicScript for entry in a new directory, which it removes afterwards.
func (b *bench) classic(e spec.Entry) (measured, error) {
	dir, err := os.MkdirTemp(b.work, "classic-")
	if err != nil {
		return measured{}, err
	}
	defer os.RemoveAll(dir)
	m, _, err := runChild("bash", "-c", classicScript, "classic", dir, e.Source, e.Checksum, e.VerifyChecksum, e.Name)
	return m, err
}

// memoryBySize compares mms apply's peak RSS for a small archive with the large one's.
func (b *bench) memoryBySize() error {
	files := max(1, int(int64(b.opt.files)*b.opt.smallMiB/b.opt.sizeMiB))
	src, err := writeBenchMachine(filepath.Join(b.work, "src"), "small", files, b.opt.smallMiB<<20, 2)
	if err != nil {
		return err
	}
	e, size, err := b.archiveMachine(src, "small")
	if err != nil {
		return err
	}
	specPath, err := b.writeSpec(e)
	if err != nil {
		return err
	}
	var rss []int64
	var wall []time.Duration
	for range 3 {
		syncDisk()
		m, err := b.applyFresh(b.mms, specPath)
		if err != nil {
			return err
		}
		rss, wall = append(rss, m.maxRSS), append(wall, m.wall)
	}
	fmt.Printf("\n== peak RSS of mms apply by archive size (median of 3 for the small one) ==\n")
	fmt.Printf("small: %d files, %d MiB of content, archive %s: peak RSS %s (wall %s)\n", files, b.opt.smallMiB, mib(size), mib(median(rss)), ms(median(wall)))
	if b.largeRSS > 0 {
		fmt.Printf("large: %d files, %d MiB of content: peak RSS %s (median of the install rounds above)\n", b.opt.files, b.opt.sizeMiB, mib(b.largeRSS))
	}
	return nil
}

// profileInstall installs the large machine once in this process under the CPU profiler.
func (b *bench) profileInstall() error {
	env, err := os.ReadFile(b.largeSpec)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(b.work, "profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(b.opt.cpuProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg := machines.Config{Dir: dir, Trust: spec.Trust{Keys: []ed25519.PublicKey{b.priv.Public().(ed25519.PublicKey)}}}
	syncDisk()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	start := time.Now()
	rep := machines.Reconcile(context.Background(), cfg, env)
	pprof.StopCPUProfile()
	if rep.Err != nil || rep.Failed() {
		return fmt.Errorf("in-process install: %v %+v", rep.Err, rep.Results)
	}
	fmt.Printf("\nin-process install under the CPU profiler: %s; profile in %s\n", ms(time.Since(start)), b.opt.cpuProfile)
	return nil
}
