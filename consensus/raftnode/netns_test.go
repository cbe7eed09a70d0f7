package raftnode

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/logtest"
)

// netnsLab is a private network the test builds: one namespace per node,
// each with a veth into a hub namespace that holds two bridges. A node's
// link on bridge "main" reaches everyone there; moving links to bridge
// "cut" partitions the network at the link layer, below libp2p and raft.
type netnsLab struct {
	t      *testing.T
	prefix string
	size   int
}

func newNetnsLab(t *testing.T, size int) *netnsLab {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("the ip command is not installed")
	}
	lab := &netnsLab{t: t, prefix: fmt.Sprintf("srl%d", os.Getpid()%100000), size: size}
	if err := exec.Command("ip", "netns", "add", lab.hub()).Run(); err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	t.Cleanup(lab.remove)
	lab.ip(lab.hub(), "link", "set", "lo", "up")
	for _, br := range []string{"main", "cut"} {
		lab.ip(lab.hub(), "link", "add", br, "type", "bridge")
		lab.ip(lab.hub(), "link", "set", br, "up")
	}
	for i := 1; i <= size; i++ {
		ns := lab.node(consensus.NodeID(i))
		lab.run("ip", "netns", "add", ns)
		lab.ip(ns, "link", "set", "lo", "up")
		lab.ip(lab.hub(), "link", "add", lab.port(consensus.NodeID(i)), "type", "veth", "peer", "name", "eth0", "netns", ns)
		lab.ip(lab.hub(), "link", "set", lab.port(consensus.NodeID(i)), "master", "main", "up")
		lab.ip(ns, "addr", "add", lab.addr(consensus.NodeID(i))+"/24", "dev", "eth0")
		lab.ip(ns, "link", "set", "eth0", "up")
	}
	return lab
}

func (l *netnsLab) hub() string                     { return l.prefix + "-hub" }
func (l *netnsLab) node(id consensus.NodeID) string { return fmt.Sprintf("%s-n%d", l.prefix, id) }
func (l *netnsLab) port(id consensus.NodeID) string { return fmt.Sprintf("p%d", id) }
func (l *netnsLab) addr(id consensus.NodeID) string { return fmt.Sprintf("10.231.0.%d", id) }
func (l *netnsLab) ip(ns string, args ...string)    { l.run(append([]string{"ip", "-n", ns}, args...)...) }
func (l *netnsLab) exec(id consensus.NodeID) []string {
	return []string{"ip", "netns", "exec", l.node(id)}
}

func (l *netnsLab) run(args ...string) {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(l.t, err, "%s: %s", strings.Join(args, " "), out)
}

// isolate moves the given nodes' links to the other bridge: they talk
// among themselves and not to the rest.
func (l *netnsLab) isolate(ids []consensus.NodeID) {
	for _, id := range ids {
		l.ip(l.hub(), "link", "set", l.port(id), "master", "cut")
	}
}

func (l *netnsLab) heal(ids []consensus.NodeID) {
	for _, id := range ids {
		l.ip(l.hub(), "link", "set", l.port(id), "master", "main")
	}
}

func (l *netnsLab) remove() {
	for i := 1; i <= l.size; i++ {
		_ = exec.Command("ip", "netns", "del", l.node(consensus.NodeID(i))).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.hub()).Run()
}

// TestProcessNetnsPartition cuts a minority that holds the leader off at
// the network layer: it commits nothing while the majority goes on, and
// after healing every node converges on the majority's logtest.History.
func TestProcessNetnsPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const size = 5
	lab := newNetnsLab(t, size)
	var addrs []string
	for i := 1; i <= size; i++ {
		addrs = append(addrs, lab.addr(consensus.NodeID(i))+":7100")
	}
	c := newProcCluster(t, cluster.Spec{Addrs: addrs})
	c.wrap = lab.exec
	c.startAll()
	all := c.live()
	lead := c.leaderAmong(all)
	c.commit(all, logtest.Values("pre", 5))

	minorityIDs := []consensus.NodeID{lead, all[0].id}
	if all[0].id == lead {
		minorityIDs[1] = all[1].id
	}
	var minority, majority []*proc
	for _, p := range all {
		if slices.Contains(minorityIDs, p.id) {
			minority = append(minority, p)
		} else {
			majority = append(majority, p)
		}
	}
	lab.isolate(minorityIDs)
	for i, p := range minority {
		_, _ = p.call(fmt.Sprintf("propose minor-%d", i)) // may be accepted; must never commit
	}
	c.leaderAmong(majority)
	c.commit(majority, logtest.Values("major", 10))
	majorityHistory := c.converged(majority)
	c.waitFor("the cut-off leader steps down (CheckQuorum) and its partner stops following it", func() bool {
		return !slices.ContainsFunc(minority, func(p *proc) bool { return p.mustCall("status").Status.Leader != 0 })
	})
	for _, p := range minority {
		r := p.mustCall("entries")
		assert.ElementsMatch(t, logtest.Values("pre", 5), r.Entries, "node %d in the minority committed something", p.id)
		assert.Contains(t, p.mustCall("propose refused").Err, consensus.ErrNoQuorum.Error())
	}

	lab.heal(minorityIDs)
	got := c.converged(all)
	assert.Equal(t, majorityHistory, got[:len(majorityHistory)])
	for _, v := range got {
		assert.NotContains(t, v, "minor", "a proposal made in the minority committed")
	}
}
