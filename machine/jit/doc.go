// Package jit holds what a binary translator needs from the host and
// nothing of the guest: an encoder of the amd64 instructions generated
// code uses (Asm), memory for code that is mapped writable in one place
// and executable in another, never both (Arena), memory the collector
// never moves or scans for the
// state generated code reads and writes (Data), and the call from Go into
// generated code (Enter).
//
// Generated code runs on the goroutine's stack without growing it: Enter
// calls it, it uses registers only, and it returns a code saying why it
// stopped. It must not touch RBP, must give R14 (the goroutine pointer)
// and R15 back as it found them, and must return within a bounded time,
// since the goroutine cannot be preempted while it runs.
package jit
