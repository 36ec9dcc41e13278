package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// minWatchInterval is the shortest --interval a --watch takes.
const minWatchInterval = 100 * time.Millisecond

// screen draws a command's text output again and again, for --watch (mms status --fleet, mms
// rollout status): on a terminal each drawing replaces the last; elsewhere (a pipe, a log)
// the drawings follow one another, each after a line "---".
type screen struct {
	w   io.Writer
	tty bool
}

// newScreen draws on f, clearing it between drawings when it is a terminal.
func newScreen(f *os.File) *screen {
	return &screen{w: f, tty: term.IsTerminal(int(f.Fd()))}
}

// draw prints one drawing: print writes it whole first, so that a terminal never shows half a
// screen.
func (s *screen) draw(print func(w io.Writer)) {
	var b bytes.Buffer
	if s.tty {
		b.WriteString("\033[H\033[2J")
	} else {
		b.WriteString("---\n")
	}
	print(&b)
	s.w.Write(b.Bytes())
}

// every draws at once and then every interval until ctx ends; frame reads what to draw. An
// error of frame is drawn in its place, and the watch goes on: the next read may work.
func (s *screen) every(ctx context.Context, interval time.Duration, frame func(ctx context.Context) (func(io.Writer), error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		print, err := frame(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			print = func(w io.Writer) {
				fmt.Fprintf(w, "%s: could not read: %v (trying again in %s)\n", time.Now().UTC().Format(time.RFC3339), err, interval)
			}
		}
		s.draw(print)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
