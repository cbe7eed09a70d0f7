package main

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"

	"github.com/synodvm/synod/consensus"
)

// faultRow is one fault-injection run on real node processes: what the
// faulty node did, the outputs the correct nodes performed with a
// certificate, the answers clients got that no correct replica computed
// (outputs performed without a valid certificate: must be 0), and whether
// every request to a correct node was answered.
type faultRow struct {
	behaviour   string
	certified   uint64
	uncertified int
	available   bool
}

// faultRows gathers the rows of the runs of this test binary; TestMain
// prints them as a table (go test ./cmd/synod -run 'Byzantine|Proxy' -v).
var faultRows struct {
	sync.Mutex
	rows []faultRow
}

func recordFault(r faultRow) {
	faultRows.Lock()
	defer faultRows.Unlock()
	faultRows.rows = append(faultRows.rows, r)
}

// certifiedBy sums the outputs the given nodes performed with a
// certificate.
func certifiedBy(c *testCluster, nodes []consensus.NodeID) uint64 {
	var n uint64
	for _, id := range nodes {
		if r, err := c.report(id); err == nil && r.Certificates != nil {
			n += r.Certificates.Certified
		}
	}
	return n
}

// printFaultTable writes one line per behaviour, its runs added up.
func printFaultTable(w io.Writer) {
	faultRows.Lock()
	defer faultRows.Unlock()
	if len(faultRows.rows) == 0 {
		return
	}
	type total struct {
		runs        int
		certified   uint64
		uncertified int
		available   bool
	}
	totals := map[string]*total{}
	var order []string
	for _, r := range faultRows.rows {
		t := totals[r.behaviour]
		if t == nil {
			t = &total{available: true}
			totals[r.behaviour] = t
			order = append(order, r.behaviour)
		}
		t.runs++
		t.certified += r.certified
		t.uncertified += r.uncertified
		t.available = t.available && r.available
	}
	slices.Sort(order)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BEHAVIOUR\tRUNS\tCERTIFIED OUTPUTS\tUNCERTIFIED OUTPUTS PERFORMED\tSERVICE AVAILABLE")
	for _, b := range order {
		t := totals[b]
		available := "yes"
		if !t.available {
			available = "no"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", b, t.runs, t.certified, t.uncertified, available)
	}
	tw.Flush()
}
