package sim

// invDownHangsUp: a replica that has a node declared down holds none of
// that node's client connections. Declaring a node down hangs its
// clients up so that they reconnect to a live node; a connection kept
// would wait on a node the cluster no longer counts on.
const invDownHangsUp = "down-hangs-up"

// checkDownConnections runs after every replica step of n.
func (s *Sim) checkDownConnections(n *node) {
	rep := n.p.rep
	for _, m := range rep.Members() {
		if rep.Down(m) && rep.OpenConnections(m) > 0 {
			s.violate(invDownHangsUp, "node %d has node %d declared down but holds %d of its connections", n.id, m, rep.OpenConnections(m))
		}
	}
}
