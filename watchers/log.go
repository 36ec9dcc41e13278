package watchers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// machineLogger is a slog.Handler that writes to the machine's log, so that the lines of
// packages that log with slog (kvspec) land in Choria's log under this watcher's name.
type machineLogger struct {
	w     *Watcher
	attrs []slog.Attr
}

func newMachineLogger(w *Watcher) *slog.Logger {
	return slog.New(&machineLogger{w: w})
}

func (h *machineLogger) Enabled(context.Context, slog.Level) bool { return true }

func (h *machineLogger) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)

	switch {
	case r.Level >= slog.LevelError:
		h.w.Errorf("%s", b.String())
	case r.Level >= slog.LevelWarn:
		h.w.Warnf("%s", b.String())
	case r.Level >= slog.LevelInfo:
		h.w.Infof("%s", b.String())
	default:
		h.w.Debugf("%s", b.String())
	}
	return nil
}

func (h *machineLogger) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &machineLogger{w: h.w, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *machineLogger) WithGroup(string) slog.Handler { return h }
