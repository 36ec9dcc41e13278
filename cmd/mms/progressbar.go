package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mms-io/mms/machines"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// barAfter is how long downloads run before mms apply shows a progress bar.
const barAfter = 2 * time.Second

// downloadBar is the progress bar mms apply shows on a terminal: one bar for all the
// downloads of the reconcile, once one of them has run for barAfter.
type downloadBar struct {
	mu        sync.Mutex
	out       io.Writer
	bar       *progressbar.ProgressBar // nil until shown
	downloads map[string]machines.Progress
}

// newDownloadBar returns the bar for out, or nil when out is not a terminal (a pipe, a file,
// a CI log): a bar there is noise.
func newDownloadBar(out *os.File) *downloadBar {
	if !term.IsTerminal(int(out.Fd())) {
		return nil
	}
	return newDownloadBarOn(out)
}

// newDownloadBarOn returns a bar that draws on out, whatever out is.
func newDownloadBarOn(out io.Writer) *downloadBar {
	return &downloadBar{out: out, downloads: map[string]machines.Progress{}}
}

// report is the bar's machines.ProgressFunc.
func (b *downloadBar) report(p machines.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.downloads[p.Name] = p
	if b.bar == nil && (p.Done || p.Elapsed < barAfter) {
		return
	}
	var bytes, total int64
	running, known := 0, true
	for _, d := range b.downloads {
		bytes += d.Bytes
		total += d.Total
		known = known && d.Total > 0
		if !d.Done {
			running++
		}
	}
	if !known {
		total = -1 // a spinner, with the bytes so far
	}
	desc := fmt.Sprintf("downloading %d of %d archives", running, len(b.downloads))
	if b.bar == nil {
		b.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(b.out), progressbar.OptionSetDescription(desc),
			progressbar.OptionShowBytes(true), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
	} else {
		if total != b.bar.GetMax64() {
			b.bar.ChangeMax64(total)
		}
		b.bar.Describe(desc)
	}
	b.bar.Set64(bytes)
}

// finish takes the bar off the terminal.
func (b *downloadBar) finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Finish()
	}
}
