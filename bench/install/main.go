package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mms-io/mms/machines/archive"
	"github.com/mms-io/mms/machines/spec"
)

type options struct {
	rounds        int
	sizeMiB       int64
	files         int
	smallMiB      int64
	mms           string
	dir           string
	unchangedRuns int
	goBench       bool
	cpuProfile    string
	parts         string
	against       string
}

// bench holds what every part shares: the work directory, the server, the key and the binary.
type bench struct {
	opt   options
	work  string
	serve string
	url   string
	mms   string
	// against is a second mms binary measured in the same install rounds (-against), or "".
	against string
	pubHex  string
	priv    ed25519.PrivateKey
	specs   int
	// largeRSS is the median peak RSS of mms apply of the large machine.
	largeRSS int64
	// largeSpec is the file holding the large machine's specification.
	largeSpec string
	// big is the large machine, once built (large).
	big *large
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of mms against classic, alternating which goes first")
	flag.Int64Var(&o.sizeMiB, "size", 100, "content of the large machine, in MiB")
	flag.IntVar(&o.files, "files", 2000, "files in the large machine")
	flag.Int64Var(&o.smallMiB, "small", 25, "content of the small machine for the memory comparison, in MiB")
	flag.StringVar(&o.mms, "mms", "", "the mms binary (default: go build ./cmd/mms into the work directory)")
	flag.StringVar(&o.dir, "dir", "", "the work directory, on the filesystem to measure (default: a new one in $TMPDIR)")
	flag.IntVar(&o.unchangedRuns, "unchanged-runs", 10, "runs of mms apply on 100 unchanged machines")
	flag.BoolVar(&o.goBench, "gobench", true, "also run go test -bench BenchmarkReconcileUnchanged ./machines/")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of one in-process install of the large machine to this file")
	flag.StringVar(&o.parts, "parts", "install,memory,source,unchanged", "which parts to run, comma separated (source: the same install from the Object Store and from HTTP, in process)")
	flag.StringVar(&o.against, "against", "", "a second mms binary (say, the previous commit's) measured in the same install rounds, in turn with the others")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/install:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work := o.dir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "mms-bench-install-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	b := &bench{opt: o, work: work, serve: filepath.Join(work, "serve")}
	if err := os.MkdirAll(b.serve, 0o755); err != nil {
		return err
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(b.serve)))
	defer srv.Close()
	b.url = srv.URL
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	b.pubHex, b.priv = hex.EncodeToString(pub), priv
	built, err := buildMMS(o.mms, work)
	if err != nil {
		return err
	}
	// Each binary measured is a plain copy in the work directory: a peak RSS counts the
	// binary's pages mapped, and how many fault-around maps depends on how the file sits in the
	// page cache (the same mms measured 55 MiB fresh from the linker, 39 MiB once copied).
	if b.mms, err = copyBinary(built, filepath.Join(work, "mms-measured")); err != nil {
		return err
	}
	if o.against != "" {
		if b.against, err = copyBinary(o.against, filepath.Join(work, "mms-against")); err != nil {
			return err
		}
	}
	if _, err := exec.LookPath("curl"); err != nil {
		return fmt.Errorf("curl is needed for the classic pipeline (apt-get install -y curl): %w", err)
	}
	printMachine(work)

	parts := strings.Split(o.parts, ",")
	if slices.Contains(parts, "install") {
		if err := b.installVersusClassic(); err != nil {
			return err
		}
		if o.cpuProfile != "" {
			if err := b.profileInstall(); err != nil {
				return err
			}
		}
	}
	if slices.Contains(parts, "memory") {
		if err := b.memoryBySize(); err != nil {
			return err
		}
	}
	if slices.Contains(parts, "source") {
		if err := b.fromSources(); err != nil {
			return err
		}
	}
	if slices.Contains(parts, "unchanged") {
		return b.unchanged()
	}
	return nil
}

// buildMMS returns bin, or builds ./cmd/mms of the module the current directory is in.
func buildMMS(bin, work string) (string, error) {
	if bin != "" {
		return filepath.Abs(bin)
	}
	out := filepath.Join(work, "mms")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/mms")
	cmd.Dir = moduleRoot()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/mms: %w: %s (or pass -mms BINARY)", err, msg)
	}
	return out, nil
}

// copyBinary copies the executable src to dst and returns dst.
func copyBinary(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	_ = os.Remove(dst) // from an earlier run in the same -dir
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// moduleRoot is the directory of the go.mod of the current directory.
func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// printMachine says what the figures were measured on.
func printMachine(work string) {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %d CPUs (%s), %s, %s/%s; load average at start: %s", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
	fmt.Printf("work directory: %s\n", work)
}

// archiveMachine builds name's archive into the served directory and returns its entry.
func (b *bench) archiveMachine(src, name string) (spec.Entry, int64, error) {
	file := name + ".tgz"
	f, err := os.Create(filepath.Join(b.serve, file))
	if err != nil {
		return spec.Entry{}, 0, err
	}
	res, err := archive.Build(src, name, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return spec.Entry{}, 0, err
	}
	fi, err := os.Stat(filepath.Join(b.serve, file))
	if err != nil {
		return spec.Entry{}, 0, err
	}
	return spec.Entry{Name: name, Source: b.url + "/" + file, Checksum: res.Checksum, VerifyChecksum: res.VerifyChecksum}, fi.Size(), nil
}

// writeSpec signs entries as a v2 specification and returns the file holding it.
func (b *bench) writeSpec(entries ...spec.Entry) (string, error) {
	data, err := json.Marshal(entries)
	if err != nil {
		return "", err
	}
	b.specs++
	env, _, err := spec.Pack(data, spec.PackOptions{Format: 2, Version: int64(b.specs), Issued: time.Now(), Key: b.priv})
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.work, fmt.Sprintf("spec-%d.json", b.specs))
	return path, os.WriteFile(path, env, 0o644)
}

// applyFresh runs bin (an mms) apply of specPath into a new directory, which it removes afterwards.
func (b *bench) applyFresh(bin, specPath string, extra ...string) (measured, error) {
	dir, err := os.MkdirTemp(b.work, "mms-")
	if err != nil {
		return measured{}, err
	}
	defer os.RemoveAll(dir)
	m, out, err := runChild(bin, append([]string{"apply", specPath, "--dir", dir, "--public-key", b.pubHex}, extra...)...)
	if err == nil && (strings.Contains(out, "FAILED") || !strings.Contains(out, "install")) {
		err = fmt.Errorf("mms apply did not install: %s", out)
	}
	return m, err
}

// syncDisk writes back dirty pages, outside any timing, so that one run's writeback does not
// land in the next run's time (mms fsyncs what it installs; the classic pipeline does not).
func syncDisk() { _ = exec.Command("sync").Run() }
