package machines

import (
	"errors"
	"io"
	"time"
)

// Progress is how far one download has come, as Config.Progress is told it.
type Progress struct {
	// Name is the entry's name.
	Name string
	// Bytes is how many bytes of the archive have arrived.
	Bytes int64
	// Total is the archive's announced length; 0 when the source did not announce one.
	Total int64
	// Elapsed is how long the download has run.
	Elapsed time.Duration
	// Done is true once, when the download ended (completely or not).
	Done bool
}

// ProgressFunc is told how downloads progress: at most every ProgressEvery while one runs, and
// once when it ends. Downloads run in parallel, so it is called from several goroutines at
// once; it must not block.
type ProgressFunc func(Progress)

// ProgressEvery is the shortest time between two reports of one download's progress.
const ProgressEvery = 100 * time.Millisecond

// progressWriter counts what is written through it to w and reports it. It passes on Seek
// and Truncate (a fetch rewinds its file to retry), and takes the announced length.
type progressWriter struct {
	w      io.Writer
	report ProgressFunc
	p      Progress
	start  time.Time
	last   time.Time
}

// errNoRewind is what Seek and Truncate return over a writer that cannot do them.
var errNoRewind = errors.New("the download's output cannot be rewound")

// newProgressWriter wraps w for entry name, reporting to report.
func newProgressWriter(w io.Writer, name string, report ProgressFunc) *progressWriter {
	now := time.Now()
	return &progressWriter{w: w, report: report, p: Progress{Name: name}, start: now, last: now}
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Bytes += int64(n)
	if now := time.Now(); now.Sub(pw.last) >= ProgressEvery {
		pw.last = now
		pw.p.Elapsed = now.Sub(pw.start)
		pw.report(pw.p)
	}
	return n, err
}

// ExpectSize implements fetch.SizeTaker.
func (pw *progressWriter) ExpectSize(n int64) { pw.p.Total = n }

// Seek passes on to the file, for a fetch that rewinds to retry.
func (pw *progressWriter) Seek(offset int64, whence int) (int64, error) {
	s, ok := pw.w.(io.Seeker)
	if !ok {
		return 0, errNoRewind
	}
	return s.Seek(offset, whence)
}

// Truncate passes on to the file, and starts counting again from size.
func (pw *progressWriter) Truncate(size int64) error {
	t, ok := pw.w.(interface{ Truncate(int64) error })
	if !ok {
		return errNoRewind
	}
	pw.p.Bytes = size
	return t.Truncate(size)
}

// done reports the end of the download.
func (pw *progressWriter) done() {
	pw.p.Elapsed, pw.p.Done = time.Since(pw.start), true
	pw.report(pw.p)
}
