package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus/cluster"
)

func TestInitWritesALoadableCluster(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		nodes   int
		engine  cluster.Engine
		listen1 string
	}{
		{"defaults", nil, 3, cluster.EngineRaft, ""},
		{"five nodes from a base port", []string{"--nodes", "5", "--base-port", "23000"}, 5, cluster.EngineRaft, "/ip4/127.0.0.1/tcp/23000"},
		{"hosts", []string{"--addrs", "10.1.0.1:7000,10.1.0.2:7000,10.1.0.3:7000,10.1.0.4:7000", "--engine", "bft"}, 4, cluster.EngineBFT, "/ip4/10.1.0.1/tcp/7000"},
		{"byzantine, four nodes unless told", []string{"--byzantine"}, 4, cluster.EngineBFT, ""},
		{"byzantine, seven nodes", []string{"--byzantine", "--nodes", "7"}, 7, cluster.EngineBFT, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			var out bytes.Buffer
			require.NoError(t, runInit(context.Background(), append([]string{"--dir", dir}, tt.args...), &out))

			c, err := cluster.Load(filepath.Join(dir, cluster.FileName))
			require.NoError(t, err)
			require.Len(t, c.Nodes, tt.nodes)
			require.Equal(t, tt.engine, c.Engine)
			if tt.listen1 != "" {
				require.Equal(t, tt.listen1, c.Nodes[0].Listen.String())
			}
			for _, n := range c.Nodes {
				_, err := c.LoadKey(n.ID)
				require.NoError(t, err, "node %d's key file", n.ID)
				require.Contains(t, out.String(), n.PeerID.String(), "the summary lists every node")
			}
		})
	}
}

func TestInitRefusesToOverwriteWithoutForce(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, runInit(context.Background(), []string{"--dir", dir}, &out))
	before, err := cluster.Load(filepath.Join(dir, cluster.FileName))
	require.NoError(t, err)

	err = runInit(context.Background(), []string{"--dir", dir, "--nodes", "5"}, &out)
	require.ErrorContains(t, err, "--force")
	kept, err := cluster.Load(filepath.Join(dir, cluster.FileName))
	require.NoError(t, err)
	require.Equal(t, before.ClusterID, kept.ClusterID)

	require.NoError(t, runInit(context.Background(), []string{"--dir", dir, "--nodes", "5", "--force"}, &out))
	after, err := cluster.Load(filepath.Join(dir, cluster.FileName))
	require.NoError(t, err)
	require.Len(t, after.Nodes, 5)
	require.NotEqual(t, before.ClusterID, after.ClusterID)
}

func TestInitRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--colour", "red"}, "flag provided but not defined"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"zero nodes", []string{"--nodes", "0"}, "need at least 1"},
		{"unknown engine", []string{"--engine", "paxos"}, `unknown engine "paxos"`},
		{"engine not implemented", []string{"--engine", "primary-backup"}, `engine "primary-backup" is not implemented`},
		{"byzantine, too few nodes", []string{"--byzantine", "--nodes", "3"}, "tolerates no faulty node: it needs 3f+1, at least 4"},
		{"nodes disagree with addrs", []string{"--nodes", "2", "--addrs", "h1:1000,h2:1000,h3:1000"}, "--nodes 2 but --addrs lists 3"},
		{"base port with addrs", []string{"--base-port", "9000", "--addrs", "h1:1000"}, "--base-port applies"},
		{"address without port", []string{"--addrs", "h1,h2"}, "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := runInit(context.Background(), append([]string{"--dir", dir}, tt.args...), &bytes.Buffer{})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestInitHelp(t *testing.T) {
	out, _, ok := synodOutput(t, "init", "-h")
	require.True(t, ok)
	require.Contains(t, out, "usage: synod init")
}
