// Package sim is synod's deterministic simulator of a whole cluster: the
// raft cores of consensus/raftlog on in-memory stores, connected by
// consensus/memnet, each with its replica running the bundled key-value
// guest, its replica runtime and network port, and simulated clients
// speaking RESP to them, all driven on one goroutine by one seeded
// generator and a virtual clock. The same seed gives the same run, bit for
// bit: Result.TraceHash is the digest of every event.
//
// A seed chooses the cluster (3 or 5 nodes, timings, guest parameters) and
// the faults: network drops, duplicates and delays, partitions, crashes
// and restarts, lost stores. Named invariants are checked as the run goes
// and at its end (invariants.go); a run stops at the first violation and
// reports it with its seed and step. docs/simulation.md says what is
// covered and how to replay a seed (synod sim --seed S).
package sim
