// Package linux is the Linux user-mode personality of the PA-RISC machine:
// it loads a static hppa executable, lays out its stack as qemu-hppa does,
// emulates the gateway page (system calls at 0x100, light-weight
// compare-and-swap at 0xb0, set-thread-pointer at 0xe0), delivers signals
// with the frame and trampoline libgcc's unwinder expects, and schedules the
// threads of all the guest's processes deterministically (fork, exec and
// wait: see docs/machine.md, Processes).
//
// # Using a process
//
//	p, err := linux.Load(binary, cfg, env) // cfg: argv, envp, pid, quantum...
//	for p.Exit() == nil {
//		res := p.Run(budget)
//		if res.Reason == linux.RunIdle {
//			// every thread waits: for res.Wait.Handles to become ready,
//			// for the clock to reach res.Wait.Deadline, or for random
//			// bytes. Wait (synod run: hostenv.Wait) or deliver input
//			// (the replica), then Run again.
//		}
//	}
//	status := p.Exit() // exit code, or the signal that killed it
//
// Run stops after exactly budget instructions unless every thread blocks or
// the first process ends first (which ends the guest, every process it
// started with it). The threads of all processes run round-robin,
// Config.Quantum instructions at a time; no host thread runs guest code and
// the package starts no goroutines. A blocked thread is re-checked against the Env (one
// Env.Clock and one Env.Poll call for all threads, in creation order)
// whenever the scheduler switches threads and on every Run.
//
// # The Env
//
// Every answer that could differ between two machines comes through the
// Env interface: clocks (given the instruction count), random bytes, files,
// sockets, the console and readiness. Its methods never block and take and
// return plain data, so Recorder can log every answer and Replayer can feed
// them back: the same answers give the same execution, instruction for
// instruction (see the tests). Implementations: hostenv (the host, for
// synod run), memenv (in memory, deterministic, for tests and simulation);
// the replica runtime implements it from the consensus log.
//
// # State
//
// StateHash is a SHA-256 over every CPU, every mapped page of every
// process and all kernel state (processes, descriptors, threads, futex
// queues, signal dispositions and pending signals) in a canonical order. Snapshot and Restore serialize the
// same state; the Env's own state (its open handles) is the Env's to save.
// Kill delivers a signal from outside at a point the caller chooses, which
// a replica must choose deterministically.
package linux
