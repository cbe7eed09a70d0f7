package raftnode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/consensus/raftlog"
)

// TestStartRefusesWrongSetup: a node started with the wrong config or
// another cluster's data directory stops with a clear error.
func TestStartRefusesWrongSetup(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, cfg *cluster.Config) consensus.NodeID
		want string
	}{
		{"unknown node", func(*testing.T, *cluster.Config) consensus.NodeID { return 9 }, "9"},
		{"another engine", func(_ *testing.T, cfg *cluster.Config) consensus.NodeID {
			cfg.Engine = cluster.EngineBFT
			return 1
		}, `engine "bft"`},
		{"another cluster's data", func(t *testing.T, cfg *cluster.Config) consensus.NodeID {
			dir := cfg.Path(cfg.Nodes[0].DataDir)
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, raftlog.CreateBoltStore(dir, raftlog.Identity{ClusterID: "00000000000000000000000000000000", Node: 1}, raftlog.StoreLife{}))
			return 1
		}, "another cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := CreateCluster(filepath.Join(t.TempDir(), "c"), cluster.Spec{Nodes: 3})
			require.NoError(t, err)
			id := tt.edit(t, cfg)
			_, err = Start(cfg, id, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
