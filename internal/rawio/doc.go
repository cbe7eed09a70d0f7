// Package rawio reads and writes a node's busy sockets with raw system
// calls: calls that keep the goroutine's processor (P) and leave Go's
// monitor thread (sysmon) asleep.
//
// A system call made the usual way tells the scheduler that it has
// entered one, and a busy node pays for that twice on a machine whose
// thread switches are dear. When every P of the process was idle, the
// monitor sleeps until woken; the next call to enter one wakes it, and it
// then polls every 20 µs for a millisecond before it backs off, a thread
// switch each time. A node goes idle and busy again many times a second:
// under load its monitor thread switched more than any other, a third of
// a Byzantine node's thread switches and 9% of its CPU. And a call that
// lasts past one of the monitor's polls may have its P taken and handed
// to another thread, which must be woken, while the calling thread must
// then find a P again.
//
// A socket's read or write never blocks (the net package makes every
// socket non-blocking, and its poller waits when a call would block) and
// lasts microseconds, so it gives up nothing by keeping its P. A file's
// write may wait for the disk: internal/durable decides for those.
package rawio
