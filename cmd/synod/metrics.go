package main

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/replica"
)

// replicaCollector exports the replica's progress from the node's latest
// status, read at scrape time: the loop publishes it every turn, so a
// scrape costs the loop nothing. Guest MIPS is
// rate(synod_replica_instructions_total[1m]) / 1e6.
type replicaCollector struct {
	node    *replica.Node
	history repairHistory

	epoch, instructions, delivered, lag, hashEpoch, hashesAgreed *prometheus.Desc
	booted, quiet, exited, performed, addressed, elsewhere       *prometheus.Desc
	inputBytes, randomBatches, divergences, repairs              *prometheus.Desc
	certified, awaiting, mismatched, invalid                     *prometheus.Desc
}

// helpRestartsOnRepair ends the help of the counts a node keeps per
// replica: a node that repairs its replica starts a new one, counting from
// zero again.
const helpRestartsOnRepair = " Starts from zero again when the node repairs its replica."

func newReplicaCollector(node *replica.Node, history repairHistory) *replicaCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("synod_replica_"+name, help, labels, nil)
	}
	return &replicaCollector{
		node:    node,
		history: history,
		epoch:   desc("epoch", "The epoch the replica is executing."),
		instructions: desc("instructions_total",
			"Guest instructions executed; its rate is the guest's speed (MIPS: rate(...[1m]) / 1e6). Jumps when the replica restores a snapshot."),
		delivered: desc("delivered_index", "Highest log index delivered to the guest."),
		lag:       desc("delivery_lag", "Log entries committed and not yet delivered to the guest: raft's commit index minus the delivered index."),
		hashEpoch: desc("state_hash_epoch", "Epoch of the replica's latest state hash."),
		hashesAgreed: desc("state_hashes_agreed_total",
			"State hashes of this replica a quorum agreed with."+helpRestartsOnRepair),
		booted: desc("booted", "1 once the machine booted from the log."),
		quiet:  desc("quiet", "1 while the node replays history without performing outputs."),
		exited: desc("guest_exited", "1 once the guest has exited."),
		performed: desc("outputs_performed_total",
			"Outputs this node performed, by kind."+helpRestartsOnRepair, "kind"),
		addressed: desc("outputs_total",
			"Outputs the replica produced, performed here or not, by the node they are addressed to and kind."+helpRestartsOnRepair, "node", "kind"),
		elsewhere: desc("outputs_elsewhere_total",
			"Outputs addressed to other nodes (or replayed quietly)."+helpRestartsOnRepair),
		inputBytes: desc("input_bytes_total",
			"Client bytes delivered into the guest's connections."+helpRestartsOnRepair),
		randomBatches: desc("random_refills_total",
			"Random batches delivered to the guest's random pool."+helpRestartsOnRepair),
		divergences: desc("divergences_total",
			"Times this node's replica stopped because a quorum disagreed with its state hash."),
		repairs: desc("repairs_total",
			"Times this node replaced its lost replica state (diverged, or a snapshot that did not restore) with a peer's."),
		certified: desc("outputs_certified_total",
			"Byzantine clusters: outputs addressed here performed with f+1 matching signatures."+helpRestartsOnRepair),
		awaiting: desc("outputs_awaiting_certificate",
			"Byzantine clusters: outputs addressed here that wait for f+1 matching signatures."),
		mismatched: desc("output_signatures_mismatched_total",
			"Byzantine clusters: valid signatures of another member over another digest than this replica's output (a faulty member, or this replica diverged)."+helpRestartsOnRepair),
		invalid: desc("output_signatures_invalid_total",
			"Byzantine clusters: output signature messages that did not verify or parse."+helpRestartsOnRepair),
	}
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.epoch, c.instructions, c.delivered, c.lag, c.hashEpoch, c.hashesAgreed,
		c.booted, c.quiet, c.exited, c.performed, c.addressed, c.elsewhere,
		c.inputBytes, c.randomBatches, c.divergences, c.repairs, c.certified, c.awaiting, c.mismatched, c.invalid} {
		ch <- d
	}
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.Status()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	gauge(c.epoch, float64(s.Replica.Epoch))
	counter(c.instructions, s.Replica.Instructions)
	gauge(c.delivered, float64(s.Replica.Delivered))
	gauge(c.lag, float64(s.Log.Commit)-float64(s.Replica.Delivered))
	gauge(c.hashEpoch, float64(s.Replica.LastHashAt))
	counter(c.hashesAgreed, s.Replica.HashesAgreed)
	gauge(c.booted, flag(s.Replica.Booted))
	gauge(c.quiet, flag(s.Quiet))
	gauge(c.exited, flag(s.Replica.Exited != nil))
	for i, kind := range outputs.Kinds {
		counter(c.performed, s.Performed[i], kind)
	}
	for node, byKind := range s.Addressed {
		for i, kind := range outputs.Kinds {
			counter(c.addressed, byKind[i], strconv.FormatUint(uint64(node), 10), kind)
		}
	}
	counter(c.elsewhere, s.Elsewhere)
	counter(c.inputBytes, s.Replica.InputBytes)
	counter(c.randomBatches, s.Replica.RandomBatches)
	// A replica that diverged stops; the node counts it once it has
	// replaced the replica, and until then the stopped replica shows it.
	diverged := c.history.divergences
	if errors.Is(s.Replica.Stopped, replica.ErrDiverged) {
		diverged++
	}
	counter(c.divergences, diverged)
	counter(c.repairs, c.history.repairs)
	if cert := s.Certificates; cert != nil {
		counter(c.certified, cert.Certified)
		gauge(c.awaiting, float64(cert.Waiting))
		counter(c.mismatched, cert.Mismatched)
		counter(c.invalid, cert.Invalid)
	}
}

// registerNodeMetrics adds the replica's series and the standard Go and
// process collectors to a node's registry.
func registerNodeMetrics(reg *prometheus.Registry, node *replica.Node, history repairHistory) error {
	for _, c := range []prometheus.Collector{
		newReplicaCollector(node, history),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
