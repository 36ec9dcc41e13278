package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serveArg, as the first argument, makes the program the servers' child process of
// -server-process: it starts the servers, says where they are, answers its parent's
// questions on stdin and stops them when stdin closes. It is not a flag: nobody types it.
const serveArg = "-internal-serve-nats"

// hello is the child's first line: where its servers are.
type hello struct {
	URLs     string   `json:"urls"`
	Replicas int      `json:"replicas"`
	Names    []string `json:"names"`
}

// serveChild is the child's whole life; args are DIR and "cluster" or "single". It answers
// one line per question: "usage" (its own user+system CPU in ns and peak RSS in KiB),
// "inmsgs", "kill I".
func serveChild(args []string, in io.Reader, out io.Writer) error {
	if len(args) != 2 {
		return fmt.Errorf("%s DIR cluster|single", serveArg)
	}
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	s, err := startServers(args[0], args[1] == "cluster")
	if err != nil {
		return err
	}
	defer s.shutdown()
	if err := json.NewEncoder(out).Encode(hello{URLs: s.urls(), Replicas: s.replicas(), Names: s.names()}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		q, arg, _ := strings.Cut(sc.Text(), " ")
		switch q {
		case "usage":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				return err
			}
			fmt.Fprintln(out, ru.Utime.Nano()+ru.Stime.Nano(), ru.Maxrss)
		case "inmsgs":
			fmt.Fprintln(out, s.inMsgs())
		case "kill":
			i, err := strconv.Atoi(arg)
			if err != nil || i < 0 || i >= len(s.names()) || s.cluster == nil {
				return fmt.Errorf("kill %q: no such cluster member", arg)
			}
			s.kill(i)
			fmt.Fprintln(out, "killed")
		default:
			return fmt.Errorf("unknown question %q", sc.Text())
		}
	}
	return sc.Err()
}

// childServers are the servers of a child process: this program re-executed with serveArg.
type childServers struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	hello hello

	mu sync.Mutex // one question at a time
}

// startChildServers starts the child and reads where its servers are.
func startChildServers(dir string, cluster bool) (*childServers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	mode := map[bool]string{true: "cluster", false: "single"}[cluster]
	c := &childServers{cmd: exec.Command(exe, serveArg, dir, mode)}
	c.cmd.Stderr = os.Stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the servers' process: %w", err)
	}
	c.out = bufio.NewScanner(stdout)
	if !c.out.Scan() {
		c.shutdown()
		return nil, fmt.Errorf("the servers' process said nothing (%v)", c.out.Err())
	}
	if err := json.Unmarshal(c.out.Bytes(), &c.hello); err != nil {
		c.shutdown()
		return nil, fmt.Errorf("the servers' process: %w", err)
	}
	return c, nil
}

// ask sends a question and returns the answer's line; a child that no longer answers is fatal
// to the measurement, so it panics rather than report made-up figures.
func (c *childServers) ask(q string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintln(c.in, q); err != nil || !c.out.Scan() {
		panic(fmt.Sprintf("the servers' process did not answer %q: %v", q, errors.Join(err, c.out.Err())))
	}
	return c.out.Text()
}

func (c *childServers) urls() string    { return c.hello.URLs }
func (c *childServers) replicas() int   { return c.hello.Replicas }
func (c *childServers) names() []string { return c.hello.Names }
func (c *childServers) kill(i int)      { c.ask(fmt.Sprint("kill ", i)) }

func (c *childServers) inMsgs() int64 {
	n, _ := strconv.ParseInt(c.ask("inmsgs"), 10, 64)
	return n
}

func (c *childServers) usage() (time.Duration, float64, bool) {
	var ns, kib int64
	if _, err := fmt.Sscan(c.ask("usage"), &ns, &kib); err != nil {
		return 0, 0, false
	}
	return time.Duration(ns), float64(kib) / 1024, true
}

// shutdown closes the child's stdin, which stops its servers, and waits for it.
func (c *childServers) shutdown() {
	_ = c.in.Close()
	_ = c.cmd.Wait()
}
