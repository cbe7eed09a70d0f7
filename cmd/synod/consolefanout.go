package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// consoleFanout gives every node synod up starts the same console input:
// up's stdin, copied to one OS pipe per node. Each node proposes what it
// reads (entry.ConsoleIn), so the guest's stdin survives the loss of any
// node; a node that has ended (its pipe breaks) is dropped from the copy.
// A nil fanout gives no input.
type consoleFanout struct {
	from io.Reader

	mu      sync.Mutex
	writers []*os.File
}

func newConsoleFanout(from io.Reader) *consoleFanout { return &consoleFanout{from: from} }

// reader returns the read end of one more node's pipe, for its
// exec.Cmd.Stdin (the caller closes it once the node has started); nil
// for a nil fanout.
func (f *consoleFanout) reader() (*os.File, error) {
	if f == nil {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("console input: %w", err)
	}
	f.mu.Lock()
	f.writers = append(f.writers, w)
	f.mu.Unlock()
	return r, nil
}

// start copies the input to every node until it ends, then ends theirs.
func (f *consoleFanout) start() {
	if f == nil {
		return
	}
	go func() {
		b := make([]byte, 32<<10)
		for {
			n, err := f.from.Read(b)
			f.mu.Lock()
			live := f.writers[:0]
			for _, w := range f.writers {
				if _, werr := w.Write(b[:n]); werr != nil {
					w.Close()
					continue
				}
				live = append(live, w)
			}
			f.writers = live
			if err != nil {
				for _, w := range f.writers {
					w.Close()
				}
				f.writers = nil
			}
			f.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
}
