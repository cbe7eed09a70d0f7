package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// commandSpec is a command as the help shows it.
type commandSpec struct {
	name    string
	summary string
	run     command
	// helpArgs make the command print its usage and flags; a command with
	// subcommands defines its flags under the first of them.
	helpArgs []string
}

// commands are synod's commands, in the order the help lists them: from
// one machine to a cluster, then the tools around it.
var commands = []commandSpec{
	{name: "run", summary: "run a PA-RISC Linux program on one emulated machine, like qemu-hppa", run: runRun},
	{name: "up", summary: "start a local cluster of nodes replicating one guest (by default a key-value service)", run: runUp},
	{name: "status", summary: "show every node of a cluster, its leader, lag and health", run: runStatus},
	{name: "start", summary: "start a node of a synod up cluster again", run: runStart},
	{name: "init", summary: "write a cluster's config and keys, for nodes on this machine or across hosts", run: runInit},
	{name: "node", summary: "run one node of a cluster made by synod init", run: runNode},
	{name: "proxy", summary: "let plain TCP clients use a Byzantine cluster: pass on only replies f+1 replicas signed", run: runProxy},
	{name: "replay", summary: "re-execute a stopped node from its log, checking its state hashes", run: runReplay},
	{name: "sim", summary: "simulate whole clusters under seeded faults, checking invariants", run: runSim},
	{name: "demo", summary: "show a disk failover: multipath or raid", run: runDemo, helpArgs: []string{"multipath", "--help"}},
	{name: "disk", summary: "serve a disk image to a cluster's nodes (disk serve)", run: runDisk, helpArgs: []string{"serve", "--help"}},
}

const usageHeader = `synod runs PA-RISC (hppa) Linux programs, alone or replicated across nodes.

usage: synod <command> [flags] [args]

commands:
`

const usageFooter = `
Run "synod help <command>" or "synod <command> --help" for a command's usage and flags.
`

// printUsage writes the general help: every command with what it does.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help\tshow a command's usage and flags\n")
	tw.Flush()
	fmt.Fprint(w, usageFooter)
}

// runHelp is "synod help [command]".
func runHelp(ctx context.Context, args []string, stdout io.Writer) error {
	switch len(args) {
	case 0:
		printUsage(stdout)
		return nil
	case 1:
		return commandHelp(ctx, args[0], stdout)
	}
	return fmt.Errorf("help: name one command (commands: %s)", commandNames())
}

// commandHelp prints one command's usage and flags: the command prints
// them itself when asked with --help.
func commandHelp(ctx context.Context, name string, stdout io.Writer) error {
	c, ok := lookupCommand(name)
	if !ok {
		return fmt.Errorf("unknown command %q (commands: %s)", name, commandNames())
	}
	args := c.helpArgs
	if args == nil {
		args = []string{"--help"}
	}
	return c.run(ctx, args, stdout)
}

func lookupCommand(name string) (commandSpec, bool) {
	i := slices.IndexFunc(commands, func(c commandSpec) bool { return c.name == name })
	if i < 0 {
		return commandSpec{}, false
	}
	return commands[i], true
}

// isHelpFlag reports whether arg asks for help, as the flag package
// understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// commandNames lists the commands in alphabetical order, for errors.
func commandNames() string {
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		names = append(names, c.name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
