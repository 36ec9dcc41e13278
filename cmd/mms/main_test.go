package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The CLI is tested as a user runs it: the real binary, built once per test run.
var (
	buildOnce sync.Once
	mmsBinary string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mms-cli-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mmsPath builds cmd/mms once and returns the binary's path.
func mmsPath(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		mmsBinary = filepath.Join(binDir, "mms")
		out, err := exec.Command("go", "build", "-o", mmsBinary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build mms: %v", buildErr)
	}
	return mmsBinary
}

// result is what one run of a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs a binary with args in dir, with env added to a clean environment.
func runCmd(t testing.TB, bin, dir string, stdin []byte, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mms runs the mms binary in dir.
func mms(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return runCmd(t, mmsPath(t), dir, nil, nil, args...)
}

func TestVersionCommand(t *testing.T) {
	r := mms(t, t.TempDir(), "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "mms ") || !strings.Contains(r.stdout, "revision ") || !strings.Contains(r.stdout, "(go-choria v0.30.2, ") {
		t.Fatalf("mms version: %+v", r)
	}
	if f := mms(t, t.TempDir(), "--version"); f.code != 0 || f.stdout != r.stdout {
		t.Errorf("mms --version: %+v, want what mms version prints", f)
	}
	if p := mms(t, t.TempDir(), "pack", "--help"); p.code != 0 || !strings.Contains(p.stdout+p.stderr, "--version") {
		t.Errorf("mms pack lost its own --version flag: %+v", p)
	}
}
