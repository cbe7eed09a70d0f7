package main

import (
	"bufio"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
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
(128+n when signal n killed it). Ctrl-C is delivered to the program.
Without a program, it runs a bundled example that sieves primes.

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
	fs := newFlags("run", runUsage)
	tracePath := fs.String("trace", "", "write a trace of every executed instruction to `file` (slow)")
	maxInstructions := fs.Uint64("max-instructions", 0, "stop the program after `n` instructions (0: no limit)")
	stats := fs.Bool("stats", false, "print instructions executed and guest MIPS to stderr at the end")
	quantum := fs.Uint64("quantum", linux.DefaultQuantum, "how many `instructions` a guest thread runs before the next one gets the CPU")
	memory := byteSize(defaultMemory)
	fs.Var(&memory, "memory", memoryUsage)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}

	binary, cfg, err := guestToRun(fs.Args())
	if err != nil {
		return err
	}
	cfg.Quantum = *quantum
	cfg.MemoryLimit = uint64(memory)
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{ReplaceAttr: dropTime}))

	env := hostenv.New()
	p, err := linux.Load(binary, cfg, env)
	if err != nil {
		return fmt.Errorf("run %s: %w", cfg.Argv[0], err)
	}
	if *tracePath != "" {
		closeTrace, err := traceTo(p, *tracePath)
		if err != nil {
			return err
		}
		defer closeTrace()
	}

	start := time.Now()
	runErr := drive(p, env, *maxInstructions)
	if *stats {
		elapsed := time.Since(start)
		fmt.Fprintf(os.Stderr, "synod: %d instructions in %v, %.1f guest MIPS\n",
			p.Instructions(), elapsed.Round(time.Millisecond), float64(p.Instructions())/elapsed.Seconds()/1e6)
	}
	if runErr != nil {
		return runErr
	}
	if code := hostenv.ExitCode(*p.Exit()); code != 0 {
		return exitStatus(code)
	}
	return nil
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
// forwards SIGINT, SIGTERM and SIGHUP to the guest.
func drive(p *linux.Process, env *hostenv.Env, limit uint64) error {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
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
			if g, ok := hostenv.GuestSignal(s.(syscall.Signal)); ok {
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
