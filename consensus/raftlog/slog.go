package raftlog

import (
	"context"
	"fmt"
	"log/slog"
)

// raftLogger adapts etcd raft's Logger to slog. raft expects Fatal and
// Panic not to return; both panic here, and the engine recovers the panic
// into an error that stops the node instead of the process.
type raftLogger struct{ log *slog.Logger }

func (l raftLogger) out(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l raftLogger) Debug(v ...any) { l.out(slog.LevelDebug, fmt.Sprint(v...)) }
func (l raftLogger) Debugf(format string, v ...any) {
	l.out(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (l raftLogger) Info(v ...any)                 { l.out(slog.LevelInfo, fmt.Sprint(v...)) }
func (l raftLogger) Infof(format string, v ...any) { l.out(slog.LevelInfo, fmt.Sprintf(format, v...)) }
func (l raftLogger) Warning(v ...any)              { l.out(slog.LevelWarn, fmt.Sprint(v...)) }
func (l raftLogger) Warningf(format string, v ...any) {
	l.out(slog.LevelWarn, fmt.Sprintf(format, v...))
}
func (l raftLogger) Error(v ...any) { l.out(slog.LevelError, fmt.Sprint(v...)) }
func (l raftLogger) Errorf(format string, v ...any) {
	l.out(slog.LevelError, fmt.Sprintf(format, v...))
}
func (l raftLogger) Fatal(v ...any)                 { l.Panic(v...) }
func (l raftLogger) Fatalf(format string, v ...any) { l.Panicf(format, v...) }
func (l raftLogger) Panic(v ...any)                 { l.fail(fmt.Sprint(v...)) }
func (l raftLogger) Panicf(format string, v ...any) { l.fail(fmt.Sprintf(format, v...)) }

func (l raftLogger) fail(msg string) {
	l.out(slog.LevelError, msg)
	panic(raftPanic(msg))
}

// raftPanic marks a panic raised by raft through its logger.
type raftPanic string
