package peripherals

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/entry"
)

// consoleMachine plays the log and the replicated stdin: proposals may be
// lost, and it takes each byte once, in order.
type consoleMachine struct {
	mu   sync.Mutex
	got  []byte
	eof  bool
	lose int // how many proposals to lose
	// maxProposal, when set, refuses larger proposals, as the Byzantine
	// engine does.
	maxProposal int
}

func (m *consoleMachine) Propose(_ context.Context, data []byte) error {
	if m.maxProposal > 0 && len(data) > m.maxProposal {
		return fmt.Errorf("a proposal of %d bytes, more than %d", len(data), m.maxProposal)
	}
	e, err := entry.Decode(data)
	if err != nil {
		return err
	}
	in := e.(entry.ConsoleIn)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lose > 0 {
		m.lose--
		return nil
	}
	next := uint64(len(m.got))
	if in.Offset <= next && in.Offset+uint64(len(in.Data)) > next {
		m.got = append(m.got, in.Data[next-in.Offset:]...)
	}
	if in.EOF && in.Offset+uint64(len(in.Data)) == uint64(len(m.got)) {
		m.eof = true
	}
	return nil
}

func (m *consoleMachine) next() (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.got)), m.eof
}

// What the console types reaches the machine whole and once, and so
// does its end: though proposals are lost, and though the log bounds
// their size (the Byzantine engine's 64 KiB requests), where 64 KiB
// entries were refused for good and the machine never read past them.
func TestConsoleInputReachesTheMachineOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int
		m     *consoleMachine
	}{
		{"proposals lost", 5000, &consoleMachine{lose: 2}},
		{"proposals bounded", 10000, &consoleMachine{maxProposal: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typed := strings.Repeat("a line typed at the console\n", tc.lines) // more than one entry
			m := tc.m
			pr, pw := io.Pipe()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			StartConsoleInput(ctx, ConsoleInputConfig{Node: 1, Input: pr, Log: m, Next: m.next,
				Logger: slog.New(slog.DiscardHandler), RetryAfter: 20 * time.Millisecond, MaxProposal: m.maxProposal})
			go func() {
				io.WriteString(pw, typed)
				pw.Close()
			}()
			require.Eventually(t, func() bool { _, eof := m.next(); return eof }, 10*time.Second, 5*time.Millisecond)
			m.mu.Lock()
			defer m.mu.Unlock()
			assert.Equal(t, typed, string(m.got))
		})
	}
}
