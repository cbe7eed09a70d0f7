//go:build !linux

package p2p

// newMappedSink holds a message in the heap: memory files are Linux's.
func newMappedSink(size int) largeSink { return newHeapSink(size) }
