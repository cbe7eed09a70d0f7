package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/synodvm/synod/replica/sim"
)

const simUsage = `usage: synod sim [--seeds N] [--seed S] [--faults KINDS] [--trace FILE] [--byzantine [--behaviour B]]

Runs the deterministic simulator of a whole cluster (docs/simulation.md):
for each seed, a cluster running the bundled key-value service with
simulated clients, or in about one seed in four the journal guest on a
shared simulated disk, under the faults that seed chooses, checking the
invariants throughout. Seeds S to S+N-1 run, several at a time; each is
reproducible bit for bit, so a failing seed is replayed with
synod sim --seed S. Exits with status 1 if any seed violates an invariant.
With --byzantine, each seed runs 4 members of the Byzantine engine, one of
them faulty in the way the seed draws (or --behaviour says), and the
fault table of the behaviours is printed at the end.

flags:
`

func runSim(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("sim", simUsage)
	first := fs.Uint64("seed", 1, "the first `seed` to run")
	count := fs.Int("seeds", 1, "how many `seeds` to run, from --seed on")
	faultList := fs.String("faults", "all", "the `kinds` of fault to inject: all, none, or a comma-separated list of "+sim.AllFaults.String())
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "how many `seeds` to run at a time")
	tracePath := fs.String("trace", "", "write every event of the run to `file` (one seed only)")
	tail := fs.Int("tail", 40, "how many of the last `events` to show for a failing seed")
	verbose := fs.Bool("v", false, "show every seed's row and what it chose, not only the failing seeds'")
	byzantine := fs.Bool("byzantine", false, "run the Byzantine engine on 4 members, one of them faulty")
	behaviourName := fs.String("behaviour", "", "with --byzantine, the faulty member's `behaviour` instead of the one each seed draws")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	faults, err := sim.ParseFaults(*faultList)
	switch {
	case err != nil:
		return fmt.Errorf("sim: --faults: %w", err)
	case *count < 1 || *jobs < 1:
		return errors.New("sim: --seeds and --jobs must be at least 1")
	case *tracePath != "" && *count != 1:
		return errors.New("sim: --trace writes one seed's events; give --seeds 1")
	case *behaviourName != "" && !*byzantine:
		return errors.New("sim: --behaviour is the faulty member's of a Byzantine run; add --byzantine")
	}
	opts := sim.Options{Guest: serviceGuest, Journal: journalGuest, Faults: faults, Tail: *tail, Byzantine: *byzantine}
	if *behaviourName != "" {
		if opts.Behaviour, err = sim.ParseBehaviour(*behaviourName); err != nil {
			return fmt.Errorf("sim: --behaviour: %w", err)
		}
	}
	if *tracePath != "" {
		f, err := os.Create(*tracePath)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		defer f.Close()
		opts.Trace = f
	}
	seeds := make([]uint64, *count)
	for i := range seeds {
		seeds[i] = *first + uint64(i)
	}
	report := simReport{out: stdout, faults: faults, verbose: *verbose || *count == 1, byzantine: *byzantine}
	start := time.Now()
	done := report.add
	if *count > 1 {
		// The table comes at the end; a long sweep says how far it got as
		// it goes, so that one cut short still shows its seeds.
		done = func(r sim.Result) {
			report.add(r)
			verdict := "ok"
			if len(r.Violations) > 0 {
				verdict = fmt.Sprintf("FAILED, %d violations", len(r.Violations))
			}
			fmt.Fprintf(os.Stderr, "seed %d: %s (%.1fs simulated)\n", r.Seed, verdict, r.SimTime.Seconds())
		}
	}
	runErr := runSeeds(ctx, seeds, *jobs, opts, done)
	if err := report.finish(time.Since(start)); runErr == nil {
		return err
	}
	return runErr
}

// runSeeds runs the seeds, jobs at a time, each seed a simulation on a
// goroutine of its own, and hands the results to done in seed order. It
// stops starting seeds when ctx ends.
func runSeeds(ctx context.Context, seeds []uint64, jobs int, opts sim.Options, done func(sim.Result)) error {
	type outcome struct {
		r   sim.Result
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcomes := make([]chan outcome, len(seeds))
	for i := range outcomes {
		outcomes[i] = make(chan outcome, 1)
	}
	slots := make(chan struct{}, jobs)
	go func() {
		for i, seed := range seeds {
			if ctx.Err() == nil {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
				}
			}
			if ctx.Err() != nil {
				outcomes[i] <- outcome{err: ctx.Err()}
				continue
			}
			go func() {
				defer func() { <-slots }()
				o := opts
				o.Seed = seed
				r, err := sim.Run(o)
				outcomes[i] <- outcome{r, err}
			}()
		}
	}()
	for i, seed := range seeds {
		o := <-outcomes[i]
		if o.err != nil {
			return fmt.Errorf("sim: seed %d: %w", seed, o.err)
		}
		done(o.r)
	}
	return nil
}

// simReport prints the table of seeds and, for each failing seed, its
// violations, the command that replays it and its last events.
type simReport struct {
	out     io.Writer
	faults  sim.FaultSet
	verbose bool
	// byzantine runs also print the fault table of their behaviours,
	// from every result.
	byzantine bool
	all       []sim.Result
	rows      []sim.Result
	failed    []sim.Result
	total     sim.Result
	seeds     int
}

func (p *simReport) add(r sim.Result) {
	p.seeds++
	if p.byzantine {
		p.all = append(p.all, r)
	}
	p.total.SimTime += r.SimTime
	p.total.Events += r.Events
	p.total.Operations += r.Operations
	p.total.Failovers += r.Failovers
	p.total.SlowPaths += r.SlowPaths
	p.total.Faults = p.total.Faults.Add(r.Faults)
	p.total.Violations = append(p.total.Violations, r.Violations...)
	if p.verbose || len(r.Violations) > 0 {
		p.rows = append(p.rows, r)
	}
	if len(r.Violations) > 0 {
		p.failed = append(p.failed, r)
	}
}

func (p *simReport) finish(took time.Duration) error {
	tw := tabwriter.NewWriter(p.out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SEED\tSIM TIME\tEVENTS\tOPS\tDROPPED\tDUPLICATED\tDELAYED\tCUT\tPARTITIONS\tCRASHES\tSTORES LOST\t"+
		"WRITE CRASHES\tTORN\tINSTALL CRASHES\tWRITE ERRORS\tDISK FULL\tBIT FLIPS\tREPLACED\tCLOCK JUMPS\tDISK CUTS\tFAILOVERS\tSLOW PATHS\tVIOLATIONS\t")
	row := func(seed string, r sim.Result) {
		f := r.Faults
		fmt.Fprintf(tw, "%s\t%.1fs\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", seed, r.SimTime.Seconds(), r.Events, r.Operations,
			f.Dropped, f.Duplicated, f.Delayed, f.Cut, f.Partitions, f.Crashes, f.StoreLosses,
			f.WriteCrashes, f.TornSnapshots, f.InstallCrashes, f.WriteErrors, f.FullDisks, f.BitFlips, f.StoresReplaced, f.ClockJumps,
			f.DiskCuts, r.Failovers, r.SlowPaths, len(r.Violations))
	}
	for _, r := range p.rows {
		row(fmt.Sprint(r.Seed), r)
	}
	row(fmt.Sprintf("%d seeds", p.seeds), p.total)
	tw.Flush()
	clusterHours := p.total.SimTime.Hours()
	fmt.Fprintf(p.out, "\n%.2f simulated cluster-hours in %v: %.2f cluster-hours per real minute, %.0f seeds per hour\n",
		clusterHours, took.Round(time.Millisecond), clusterHours/took.Minutes(), float64(p.seeds)/took.Hours())
	if p.verbose {
		for _, r := range p.rows {
			fmt.Fprintf(p.out, "seed %d (trace %016x): %s\n", r.Seed, r.TraceHash, r.Plan)
		}
	}
	if p.byzantine {
		fmt.Fprintln(p.out)
		sim.ByzantineTable(p.out, p.all)
	}
	for _, r := range p.failed {
		fmt.Fprintf(p.out, "\nseed %d failed: %s\n", r.Seed, r.Plan)
		for _, v := range r.Violations {
			fmt.Fprintf(p.out, "  %v\n", v)
		}
		fmt.Fprintf(p.out, "replay: %s\nlast events:\n  %s\n", r.ReplayCommand(p.faults), strings.Join(r.Tail, "\n  "))
	}
	if len(p.failed) > 0 {
		return fmt.Errorf("sim: %d of %d seeds violated an invariant", len(p.failed), p.seeds)
	}
	return nil
}
