// Command synod runs PA-RISC Linux programs, alone or replicated across a
// cluster of nodes. Each subcommand lives in its own file.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// A command parses its own flags from args, writes its normal output to
// stdout, and stops when ctx is cancelled (Ctrl-C).
type command func(ctx context.Context, args []string, stdout io.Writer) error

// exitStatus is an error that carries the exit status a command wants
// synod to end with (a guest's status, for synod run); main exits with it
// without printing anything.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdout)
	var status exitStatus
	switch {
	case err == nil:
	case errors.As(err, &status):
		os.Exit(int(status))
	default:
		fmt.Fprintln(os.Stderr, "synod:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given (commands: %s; synod help describes them)", commandNames())
	}
	if args[0] == "help" || isHelpFlag(args[0]) {
		return runHelp(ctx, args[1:], stdout)
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		return fmt.Errorf("unknown command %q (commands: %s)", args[0], commandNames())
	}
	// Every command's --help, including those that first want a
	// subcommand.
	if len(args) == 2 && isHelpFlag(args[1]) {
		return commandHelp(ctx, c.name, stdout)
	}
	return c.run(ctx, args[1:], stdout)
}
