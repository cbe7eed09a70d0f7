package main

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// guestStderrMark starts each line of the guest's stderr that synod up
// shows on its own stderr: the node performing a console output writes
// it to a pipe of up's (synod node --guest-stderr-fd), not to its log, and
// up tells it apart from its own messages and from the guest's stdout.
const guestStderrMark = "stderr| "

// lineWriter writes whole lines to w, one at a time, for several relays.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lineWriter) writeLine(line []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.w.Write(line) // a terminal that went away loses the line, nothing more
}

// relayGuestStderr copies r to lw line by line, each marked, until r
// ends; a last line without a newline is completed with one.
func relayGuestStderr(r io.Reader, lw *lineWriter) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			lw.writeLine(append([]byte(guestStderrMark), line...))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				lw.writeLine([]byte(guestStderrMark + "(the guest's stderr was cut: " + err.Error() + ")\n"))
			}
			return
		}
	}
}
