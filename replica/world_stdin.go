package replica

import (
	"github.com/synodvm/synod/consensus/entry"
	"github.com/synodvm/synod/machine/linux"
)

// maxConsoleInput bounds the console input delivered and not yet read by
// the guest; bytes beyond it are dropped, as a full terminal buffer
// would, and proposed again by the nodes (they follow Next).
const maxConsoleInput = 1 << 20

// consoleInput is the guest's stdin as replicated state. Unless the boot
// entry says the console feeds it, stdin is empty, as under a
// supervisor. Otherwise every node that reads the console proposes what
// it read (entry.ConsoleIn) and the first copy of each byte counts.
type consoleInput struct {
	Fed  bool
	Buf  []byte // delivered, not yet read
	Next uint64 // the stream offset of the next byte expected
	EOF  bool   // the console's input ended at Next
}

func (c *consoleInput) deliver(e entry.ConsoleIn) {
	if !c.Fed || c.EOF || e.Offset > c.Next {
		return // a hole: the nodes propose again from Next
	}
	end := e.Offset + uint64(len(e.Data))
	if end > c.Next {
		fresh := e.Data[c.Next-e.Offset:]
		fresh = fresh[:min(len(fresh), maxConsoleInput-len(c.Buf))]
		c.Buf = append(c.Buf, fresh...)
		c.Next += uint64(len(fresh))
	}
	if e.EOF && end == c.Next {
		c.EOF = true
	}
}

// read answers a read of stdin.
func (c *consoleInput) read(n int) ([]byte, linux.Errno) {
	switch {
	case !c.Fed:
		return nil, 0
	case len(c.Buf) > 0:
		n = min(n, len(c.Buf))
		b := append([]byte(nil), c.Buf[:n]...)
		c.Buf = c.Buf[n:]
		return b, 0
	case c.EOF:
		return nil, 0
	}
	return nil, linux.EAGAIN
}

func (c *consoleInput) readable() bool { return !c.Fed || len(c.Buf) > 0 || c.EOF }
