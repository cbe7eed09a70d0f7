package main

import (
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
	node *replica.Node

	epoch, instructions, delivered, hashEpoch, hashesAgreed *prometheus.Desc
	booted, quiet, exited, outputs, elsewhere               *prometheus.Desc
}

func newReplicaCollector(node *replica.Node) *replicaCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("synod_replica_"+name, help, labels, nil)
	}
	return &replicaCollector{
		node:         node,
		epoch:        desc("epoch", "The epoch the replica is executing."),
		instructions: desc("instructions_total", "Guest instructions executed."),
		delivered:    desc("delivered_index", "Highest log index delivered to the guest."),
		hashEpoch:    desc("state_hash_epoch", "Epoch of the replica's latest state hash."),
		hashesAgreed: desc("state_hashes_agreed_total", "State hashes of this replica a quorum agreed with."),
		booted:       desc("booted", "1 once the machine booted from the log."),
		quiet:        desc("quiet", "1 while the node replays history without performing outputs."),
		exited:       desc("guest_exited", "1 once the guest has exited."),
		outputs:      desc("outputs_performed_total", "Outputs this node performed, by kind.", "kind"),
		elsewhere:    desc("outputs_elsewhere_total", "Outputs addressed to other nodes (or replayed quietly)."),
	}
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.epoch, c.instructions, c.delivered, c.hashEpoch, c.hashesAgreed,
		c.booted, c.quiet, c.exited, c.outputs, c.elsewhere} {
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
	gauge(c.hashEpoch, float64(s.Replica.LastHashAt))
	counter(c.hashesAgreed, s.Replica.HashesAgreed)
	gauge(c.booted, flag(s.Replica.Booted))
	gauge(c.quiet, flag(s.Quiet))
	gauge(c.exited, flag(s.Replica.Exited != nil))
	for i, kind := range outputs.Kinds {
		counter(c.outputs, s.Performed[i], kind)
	}
	counter(c.elsewhere, s.Elsewhere)
}

// registerNodeMetrics adds the replica's series and the standard Go and
// process collectors to a node's registry.
func registerNodeMetrics(reg *prometheus.Registry, node *replica.Node) error {
	for _, c := range []prometheus.Collector{
		newReplicaCollector(node),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
