package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// newFlags makes a command's flag set: its usage is the command's usage
// text followed by its flags.
func newFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and reports whether the user only asked for help,
// in which case the usage is on stdout and the command does nothing more.
// A bad flag is an error of one line: the usage would bury it.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	// The flag package prints the usage itself on -h and on a bad flag,
	// both to one output; silenced, it leaves the choice here.
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	fs.Usage = usage
	defer fs.SetOutput(os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(os.Stdout)
		fs.Usage()
		return true, nil
	case err != nil:
		return false, fmt.Errorf("%s: %w (synod %s --help lists its flags)", fs.Name(), err, fs.Name())
	}
	return false, nil
}

// defaultMemory is the guest memory limit when --memory is not given:
// generous for a server, far below what a 32-bit guest could map.
const defaultMemory = 1 << 30

// memoryUsage describes --memory, the same for run, node and up.
const memoryUsage = "cap the guest's memory (program, stack, brk and mmap) at `size`, such as 512M or 2G: " +
	"past it the guest's allocations fail with ENOMEM instead of taking the host's memory (each process has its own)"

// maxProcessesUsage describes --max-processes, the same for run, node and up.
const maxProcessesUsage = "how many `processes` the guest may have at once, those ended and not yet waited for included: " +
	"past it fork fails with EAGAIN, so a fork bomb takes neither the host's memory nor its time"

// byteSize is a flag's size in bytes, written as a number with an optional
// K, M or G suffix (powers of 1024; 64M, 64MB and 64MiB are the same).
type byteSize uint64

var sizeUnits = []struct {
	suffix string
	bytes  uint64
}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}

func (s *byteSize) String() string {
	for _, u := range sizeUnits {
		if *s != 0 && uint64(*s)%u.bytes == 0 {
			return strconv.FormatUint(uint64(*s)/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatUint(uint64(*s), 10)
}

// maxGuestMemory is all a 32-bit guest can address: a larger limit would
// mean nothing.
const maxGuestMemory = 1 << 32

func (s *byteSize) Set(v string) error {
	num, unit := splitSize(v)
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > maxGuestMemory/unit {
		return errors.New("want a size from 1 byte to 4G, such as 512M or 2G")
	}
	*s = byteSize(n * unit)
	return nil
}

// splitSize splits a size such as 64MiB into its number and its unit.
func splitSize(v string) (string, uint64) {
	v = strings.ToUpper(v)
	for _, u := range sizeUnits {
		for _, suffix := range []string{u.suffix + "IB", u.suffix + "B", u.suffix} {
			if num, ok := strings.CutSuffix(v, suffix); ok {
				return num, u.bytes
			}
		}
	}
	return strings.TrimSuffix(v, "B"), 1
}
