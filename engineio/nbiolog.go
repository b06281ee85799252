package engineio

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lesismal/nbio/logging"
)

// nbio logs through a package-level logger that prints to stdout. Route it
// to the first server's slog.Logger instead (it is global in nbio, so one
// logger serves every Server of the process): its chatter ("NBIO Engine
// start") at debug level, its warnings and errors as such.
var nbioLogOnce sync.Once

func routeNBIOLogs(l *slog.Logger) {
	nbioLogOnce.Do(func() { logging.SetLogger(nbioLogger{l}) })
}

type nbioLogger struct{ l *slog.Logger }

func (n nbioLogger) log(level slog.Level, format string, v []any) {
	if n.l.Enabled(context.Background(), level) {
		n.l.Log(context.Background(), level, "nbio: "+fmt.Sprintf(format, v...))
	}
}

func (n nbioLogger) Debug(format string, v ...any) { n.log(slog.LevelDebug, format, v) }
func (n nbioLogger) Info(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }
func (n nbioLogger) Warn(format string, v ...any)  { n.log(slog.LevelWarn, format, v) }
func (n nbioLogger) Error(format string, v ...any) { n.log(slog.LevelError, format, v) }
