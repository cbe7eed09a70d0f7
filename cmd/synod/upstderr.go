package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync"
)

// guestStderrMark begins each line of the guest's stderr on synod up's
// stderr, telling it apart from synod up's own messages.
const guestStderrMark = "stderr| "

// guestStderrFD is the descriptor a node synod up starts writes the
// guest's stderr to: its first exec.Cmd.ExtraFiles.
const guestStderrFD = 3

// maxGuestStderrLine bounds a line held back until its newline comes; a
// longer one is shown in parts, each marked, rather than held in memory
// without end.
const maxGuestStderrLine = 64 << 10

// guestStderr shows the guest's stderr on synod up's stderr. A node's
// stderr is its log, so each node synod up starts gets a pipe of its own
// for the guest's stderr (--guest-stderr-fd); synod up reads each pipe
// line by line and writes every line whole and marked, so that lines from
// different nodes, and synod up's own messages, never cut into one
// another. Only the node that performs a console output writes it, so
// each line shows once.
type guestStderr struct {
	to io.Writer

	mu      sync.Mutex // one line at a time on to
	copying sync.WaitGroup
}

func newGuestStderr(to io.Writer) *guestStderr { return &guestStderr{to: to} }

// pipe returns the write end of one more node's pipe, for its
// exec.Cmd.ExtraFiles (the caller closes it once the node has started),
// and shows what the node writes there until the node has ended.
func (g *guestStderr) pipe() (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("guest stderr: %w", err)
	}
	g.copying.Add(1)
	go func() {
		defer g.copying.Done()
		defer r.Close()
		g.copy(r)
	}()
	return w, nil
}

// copy shows r's lines marked, the last one too when it has no newline.
func (g *guestStderr) copy(r io.Reader) {
	br := bufio.NewReaderSize(r, maxGuestStderrLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			marked := append([]byte(guestStderrMark), line...)
			if line[len(line)-1] != '\n' {
				marked = append(marked, '\n')
			}
			g.mu.Lock()
			// A failed write is not retried: the reading goes on, so
			// that the node is never blocked on its pipe.
			_, _ = g.to.Write(marked)
			g.mu.Unlock()
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// wait waits until every pipe has been read to its end, which comes when
// its node process has ended.
func (g *guestStderr) wait() { g.copying.Wait() }
