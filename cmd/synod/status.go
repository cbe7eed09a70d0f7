package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/synodvm/synod/consensus/cluster"
)

const statusUsage = `usage: synod status [--dir DIR | --config FILE]

Shows every node of a cluster: its role in the consensus log, commit and
delivered log index, epoch, latest state hash, outputs it performed and
live client connections. Nodes that do not answer are shown as down.

flags:
`

func runStatus(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("status", statusUsage)
	dir := fs.String("dir", "", "a `directory` made by synod up or synod init")
	configPath := fs.String("config", "", "the cluster config `file`")
	asJSON := fs.Bool("json", false, "print the nodes' reports as JSON")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *configPath == "" {
		if *dir == "" {
			fs.Usage()
			return errors.New("status: give --dir or --config")
		}
		*configPath = filepath.Join(*dir, cluster.FileName)
	}
	cfg, err := cluster.Load(*configPath)
	if err != nil {
		return err
	}
	var reports []any
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tCOMMIT\tDELIVERED\tEPOCH\tSTATE HASH (EPOCH)\tACTIONED\tCONNS\tGUEST")
	for _, n := range cfg.Nodes {
		r, err := fetchReport(n.StatusAddr)
		if err != nil {
			reports = append(reports, map[string]any{"id": n.ID, "error": err.Error()})
			fmt.Fprintf(tw, "%d\tdown\t\t\t\t\t\t\t%v\n", n.ID, err)
			continue
		}
		reports = append(reports, r)
		guest := "running"
		switch {
		case r.Stopped != "":
			guest = "stopped: " + r.Stopped
		case r.Exited:
			guest = fmt.Sprintf("exited %d", r.exitCode())
		case !r.Booted:
			guest = "not booted"
		}
		hash := "-" // no checkpoint yet
		if r.StateHash != "" {
			hash = fmt.Sprintf("%s (%d)", r.StateHash, r.HashEpoch)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\n", r.ID, r.Role, r.Commit, r.Delivered, r.Epoch,
			hash, r.Actioned, r.Connections, guest)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	return tw.Flush()
}
