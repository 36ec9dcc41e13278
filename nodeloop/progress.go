package nodeloop

import (
	"log/slog"
	"sync"
	"time"

	"github.com/mms-io/mms/machines"
)

// Progress lines in a loop's log: a download that runs longer than ProgressAfter says how far
// it has come every ProgressLogEvery, and that it ended.
const (
	ProgressAfter    = 2 * time.Second
	ProgressLogEvery = 5 * time.Second
)

// LogProgress returns a machines.ProgressFunc that logs to log a line for each download that
// runs past after, then one every every, and one when it ends; a quick download logs nothing.
// The Loop uses it (with ProgressAfter and ProgressLogEvery) when its Config has no Progress.
func LogProgress(log *slog.Logger, after, every time.Duration) machines.ProgressFunc {
	var mu sync.Mutex
	said := map[string]time.Duration{} // the Elapsed of each download's last line
	return func(p machines.Progress) {
		mu.Lock()
		last, saying := said[p.Name]
		switch {
		case p.Done:
			delete(said, p.Name)
		case !saying && p.Elapsed >= after, saying && p.Elapsed-last >= every:
			said[p.Name] = p.Elapsed
		default:
			mu.Unlock()
			return
		}
		mu.Unlock()
		attrs := []any{"machine", p.Name, "bytes", p.Bytes, "elapsed", p.Elapsed.Round(time.Second)}
		if p.Total > 0 {
			attrs = append(attrs, "total", p.Total, "percent", p.Bytes*100/p.Total)
		}
		switch {
		case p.Done && saying:
			log.Info("download ended", attrs...)
		case !p.Done:
			log.Info("downloading", attrs...)
		}
	}
}
