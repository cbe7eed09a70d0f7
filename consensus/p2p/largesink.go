package p2p

// A large message is held as it arrives in a largeSink: in the heap
// (heapSink), or, for a snapshot whose receiver releases it, in memory
// the kernel fills (mappedSink, largesink_linux.go).

// largeSink holds a large message as it arrives.
type largeSink interface {
	// next returns a buffer for the next n bytes, which the caller fills
	// and then hands to write.
	next(n int) []byte
	// write appends p: the head, or a buffer next returned, filled.
	write(p []byte) error
	// finish returns the whole message, and the function that releases
	// it (nil when the garbage collector does).
	finish() ([]byte, func(), error)
	// discard frees what was received, after a failure.
	discard()
}

// heapSink holds a message in the heap. Memory grows with the bytes
// actually received, never with the size announced: the first quarter is
// kept in chunks, and only then is the whole message allocated, the
// chunks copied in and the rest read in place. A peer that announces more
// than it sends thus costs at most four times what it sent, and a message
// is copied only a quarter over (growing one buffer by doubling copied it
// whole, into fresh memory twice its size, which the kernel hands out a
// page at a time: seconds for 500 MiB).
type heapSink struct {
	size  int      // of the whole message
	at    int      // bytes written
	msg   []byte   // the whole message, once allocated
	early [][]byte // what was written until then
}

func newHeapSink(size int) largeSink { return &heapSink{size: size} }

func (h *heapSink) next(n int) []byte {
	if h.msg == nil && (h.at >= h.size/4 || h.at+n >= h.size) {
		h.allocate()
	}
	if h.msg != nil {
		return h.msg[h.at : h.at+n]
	}
	return make([]byte, n)
}

// allocate makes the whole message and copies in what arrived so far.
func (h *heapSink) allocate() {
	h.msg = make([]byte, h.size)
	at := 0
	for _, c := range h.early {
		at += copy(h.msg[at:], c)
	}
	h.early = nil
}

func (h *heapSink) write(p []byte) error {
	switch {
	case len(p) == 0:
	case h.msg == nil:
		h.early = append(h.early, p)
	case &p[0] != &h.msg[h.at]: // not read in place
		copy(h.msg[h.at:], p)
	}
	h.at += len(p)
	return nil
}

func (h *heapSink) finish() ([]byte, func(), error) {
	if h.msg == nil {
		h.allocate()
	}
	return h.msg, nil, nil
}

func (h *heapSink) discard() { h.msg, h.early = nil, nil }
