package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/synodvm/synod/machine"
	"github.com/synodvm/synod/machine/linux"
	"github.com/synodvm/synod/machine/linux/hostenv"
)

// bundledGuest is the example program `synod run` runs without arguments
// (source and rebuild command in guests/primes.c).
//
//go:embed guests/primes
var bundledGuest []byte

const runUsage = `usage: synod run [flags] [program [args...]]

Runs a static hppa-linux (PA-RISC) program on one emulated machine, like
qemu-hppa: stdin, stdout and stderr are passed through, files and TCP
sockets are the host's, and synod exits with the program's exit status
(128+n when signal n killed it). The program may fork and exec other
hppa programs: the processes run on the same machine, and the program's
end ends them all. SIGTERM and SIGHUP are delivered to the program, and
SIGINT (Ctrl-C) to its process group, which starts with those synod was
started with ignored still ignored (a background job of a script ignores
SIGINT); when one of them kills the program, it kills synod too, as it
does qemu-hppa. Without a program, it runs a bundled example that sieves
primes.

Build a program for it with Debian's cross compiler:
  apt-get install gcc-hppa-linux-gnu
  hppa-linux-gnu-gcc -O2 -static -o prog prog.c

flags:
`

// runSlice is how many instructions run between checks for host signals.
const runSlice = 1 << 24

// idleWait bounds one host wait of an idle guest, so that host signals are
// forwarded promptly.
const idleWait = 100 * time.Millisecond

func runRun(_ context.Context, args []string, stdout io.Writer) error {
	exit, err := runGuest(args)
	if err != nil {
		return err
	}
	if sig := hostenv.HostSignal(exit.Signal); exit.Signal != 0 && slices.Contains(forwardedSignals, sig) {
		endBySignal(sig)
	}
	if code := hostenv.ExitCode(exit); code != 0 {
		return exitStatus(code)
	}
	return nil
}

// runGuest runs the program args name (or the bundled one) to its end.
func runGuest(args []string) (linux.ExitStatus, error) {
	fs := newFlags("run", runUsage)
	tracePath := fs.String("trace", "", "write a trace of every executed instruction to `file` (slow)")
	maxInstructions := fs.Uint64("max-instructions", 0, "stop the program after `n` instructions (0: no limit)")
	stats := fs.Bool("stats", false, "print instructions executed, guest MIPS and the translator's blocks and time to stderr at the end")
	quantum := fs.Uint64("quantum", linux.DefaultQuantum, "how many `instructions` a guest thread runs before the next one gets the CPU")
	engine := newEngineFlag()
	fs.Var(&engine, "engine", engineUsage)
	memory := byteSize(defaultMemory)
	fs.Var(&memory, "memory", memoryUsage)
	root := fs.String("root", "", "look absolute guest paths up under `dir` first, as qemu-hppa -L does (a guest /bin/sh for system())")
	maxProcesses := fs.Uint64("max-processes", linux.DefaultMaxProcesses, maxProcessesUsage)
	if help, err := parseFlags(fs, args); help || err != nil {
		return linux.ExitStatus{}, err
	}
	binary, cfg, err := guestToRun(fs.Args())
	if err != nil {
		return linux.ExitStatus{}, err
	}
	cfg.Quantum = *quantum
	cfg.MemoryLimit = uint64(memory)
	cfg.MaxProcesses = uint32(min(*maxProcesses, math.MaxUint32))
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{ReplaceAttr: dropTime}))

	env := hostenv.New()
	env.SetRoot(*root)
	p, err := linux.Load(binary, cfg, env)
	if err != nil {
		return linux.ExitStatus{}, fmt.Errorf("run %s: %w", cfg.Argv[0], err)
	}
	p.SetEngine(engine.Engine)
	for _, sig := range ignoredAtStart {
		g, _ := hostenv.GuestSignal(sig)
		if err := p.Ignore(g); err != nil {
			return linux.ExitStatus{}, fmt.Errorf("run: %w", err)
		}
	}
	if *tracePath != "" {
		closeTrace, err := traceTo(p, *tracePath)
		if err != nil {
			return linux.ExitStatus{}, err
		}
		defer closeTrace()
	}

	start := time.Now()
	runErr := drive(p, env, *maxInstructions)
	if *stats {
		elapsed := time.Since(start)
		fmt.Fprintf(os.Stderr, "synod: %d instructions in %v, %.1f guest MIPS\n",
			p.Instructions(), elapsed.Round(time.Millisecond), float64(p.Instructions())/elapsed.Seconds()/1e6)
		if blocks, spent := machine.TranslationStats(); blocks > 0 {
			fmt.Fprintf(os.Stderr, "synod: %d blocks translated in %v, %.1f µs per block\n",
				blocks, spent.Round(time.Millisecond), float64(spent.Microseconds())/float64(blocks))
		}
	}
	if runErr != nil {
		return linux.ExitStatus{}, runErr
	}
	return *p.Exit(), nil
}

// forwardedSignals are the host signals synod run hands to the program.
var forwardedSignals = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// ignoredAtStart are the forwarded signals synod was started with
// ignored: the program starts with them ignored too. Known only before
// main asks for SIGINT and SIGTERM, which undoes their being ignored:
// hence a package variable, set before main runs.
var ignoredAtStart = slices.DeleteFunc(slices.Clone(forwardedSignals), func(s syscall.Signal) bool { return !signal.Ignored(s) })

// endBySignal ends synod by sig, the way qemu-hppa ends when its program
// dies of a signal: the shell sees a process killed by sig (and a script
// stops at Ctrl-C), not one that exited. It returns only if sig did not
// end the process.
func endBySignal(sig syscall.Signal) {
	// With nobody asking for sig any more, the Go runtime ends the
	// process by it when it arrives.
	signal.Reset(sig)
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		return
	}
	time.Sleep(time.Second)
}

// guestToRun reads the program named by args (or picks the bundled one) and
// builds the process configuration qemu-hppa would give it.
func guestToRun(args []string) ([]byte, linux.Config, error) {
	cfg := linux.Config{
		PID: uint32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		// qemu-hppa hands the guest the environment in reverse order.
		Envp: os.Environ(),
	}
	slices.Reverse(cfg.Envp)
	cfg.Hostname, _ = os.Hostname()
	if len(args) == 0 {
		cfg.Argv, cfg.ExePath = []string{"primes"}, "/proc/self/exe"
		return bundledGuest, cfg, nil
	}
	binary, err := os.ReadFile(args[0])
	if err != nil {
		return nil, cfg, fmt.Errorf("run: %w", err)
	}
	cfg.Argv = args
	if cfg.ExePath, err = filepath.Abs(args[0]); err != nil {
		return nil, cfg, fmt.Errorf("run: %w", err)
	}
	return binary, cfg, nil
}

// drive runs p to its end: it waits on the host while the guest is idle and
// forwards the forwarded signals to the guest, whose dispositions decide
// what they do, ignored ones included.
func drive(p *linux.Process, env *hostenv.Env, limit uint64) error {
	sigs := make(chan os.Signal, 8)
	for _, sig := range forwardedSignals {
		signal.Notify(sigs, sig)
	}
	defer signal.Stop(sigs)
	for {
		forwardSignals(p, sigs)
		budget := uint64(runSlice)
		if limit != 0 {
			if p.Instructions() >= limit {
				return fmt.Errorf("run: stopped after %d instructions (--max-instructions)", p.Instructions())
			}
			budget = min(budget, limit-p.Instructions())
		}
		switch res := p.Run(budget); res.Reason {
		case linux.RunExited:
			return nil
		case linux.RunIdle:
			if err := env.Wait(res.Wait, idleWait); err != nil {
				return fmt.Errorf("run: wait for the host: %w", err)
			}
		case linux.RunBudget:
		}
	}
}

func forwardSignals(p *linux.Process, sigs <-chan os.Signal) {
	for {
		select {
		case s := <-sigs:
			g, ok := hostenv.GuestSignal(s.(syscall.Signal))
			switch {
			case !ok:
			case s == syscall.SIGINT:
				// Ctrl-C: the terminal's foreground group, as under qemu-hppa,
				// where every guest process is a host process of that group.
				_ = p.KillGroup(g)
			default:
				_ = p.Kill(g)
			}
		default:
			return
		}
	}
}

// traceTo writes one line per executed instruction: thread id, address,
// instruction word, and "nullified" for an instruction that is skipped.
func traceTo(p *linux.Process, path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("run: trace: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	p.SetTrace(func(tid, pc, word uint32, nullified bool) {
		mark := ""
		if nullified {
			mark = "  (nullified)"
		}
		fmt.Fprintf(w, "%d %08x %08x  %s%s\n", tid, pc&^3, word, machine.Disassemble(pc&^3, word), mark)
	})
	return func() {
		if err := w.Flush(); err != nil {
			slog.Error("trace", "err", err)
		}
		f.Close()
	}, nil
}

// dropTime removes the timestamp from diagnostics: one line per event.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
