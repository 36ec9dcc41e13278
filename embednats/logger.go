package embednats

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// serverLog adapts the nats-server Logger interface to slog and remembers the last fatal
// message, so that Start can say why the server did not come up.
type serverLog struct {
	log *slog.Logger // nil discards

	mu    sync.Mutex
	fatal string
}

func (l *serverLog) emit(level slog.Level, format string, v []any) {
	if l.log == nil {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

// Noticef logs at Info.
func (l *serverLog) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v) }

// Warnf logs at Warn.
func (l *serverLog) Warnf(format string, v ...any) { l.emit(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (l *serverLog) Errorf(format string, v ...any) { l.emit(slog.LevelError, format, v) }

// Debugf logs at Debug.
func (l *serverLog) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

// Tracef is dropped: protocol traces are too loud for an embedded server.
func (l *serverLog) Tracef(string, ...any) {}

// Fatalf records the message and logs it at Error; it never exits the process.
func (l *serverLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	l.fatal = fmt.Sprintf(format, v...)
	l.mu.Unlock()
	l.emit(slog.LevelError, format, v)
}

// lastFatal returns the last fatal message, or "".
func (l *serverLog) lastFatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal
}
