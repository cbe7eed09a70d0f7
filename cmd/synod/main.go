// Command synod runs PA-RISC Linux programs, alone or replicated across a
// cluster of nodes. Each subcommand lives in its own file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
)

// A command parses its own flags from args, writes its normal output to
// stdout, and stops when ctx is cancelled (Ctrl-C).
type command func(ctx context.Context, args []string, stdout io.Writer) error

var commands = map[string]command{
	"init": runInit,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "synod:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command given (commands: %s)", commandNames())
	}
	run, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (commands: %s)", args[0], commandNames())
	}
	return run(ctx, args[1:], stdout)
}

func commandNames() string {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
