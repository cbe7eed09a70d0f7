package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/synodvm/synod/consensus"
	"github.com/synodvm/synod/consensus/bftnode"
	"github.com/synodvm/synod/consensus/cluster"
	"github.com/synodvm/synod/outputs"
	"github.com/synodvm/synod/peripherals/disk"
)

// The disk server of a Byzantine cluster applies a write only with f+1
// members' signatures over that very write: node 1, faulty, cannot write
// alone, nor with signatures over another write, nor with one member's
// signature twice.
func TestByzantineDiskServerAppliesOnlyCertifiedWrites(t *testing.T) {
	dir := t.TempDir()
	cfg, err := createCluster(dir, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT,
		Disks: []cluster.Disk{{Name: "j", Size: 1 << 20, Paths: []cluster.DiskPath{{Node: 1, Addr: "127.0.0.1:7420"}}}}})
	require.NoError(t, err)
	configPath := filepath.Join(dir, cluster.FileName)
	check, err := certifiedWrites(configPath, "j")
	require.NoError(t, err)

	srv, err := disk.Open(filepath.Join(dir, "j.img"), 1<<20, disk.Options{CheckWrite: check})
	require.NoError(t, err)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	client, err := disk.NewClient(disk.ClientConfig{Addr: ln.Addr().String(), ID: cfg.ClusterID + "/j"})
	require.NoError(t, err)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sign := func(o outputs.Output, by ...consensus.NodeID) []byte {
		var cert outputs.Certificate
		for _, id := range by {
			key, _, err := bftnode.Keys(cfg, id)
			require.NoError(t, err)
			cert = append(cert, outputs.SignOutput(cfg.ClusterID, id, key, o))
		}
		return outputs.AppendCertificate(nil, cert)
	}
	write := func(seq uint64, data []byte) outputs.Output {
		return outputs.Output{Seq: seq, Node: 1, Action: outputs.DiskWrite{Disk: "j", Offset: 4096, Data: data}}
	}
	right, wrong := bytes.Repeat([]byte("r"), 512), bytes.Repeat([]byte("w"), 512)

	for _, tc := range []struct {
		name string
		seq  uint64
		cert []byte
	}{
		{"no certificate", 1, nil},
		{"the node's own signature alone", 2, sign(write(2, wrong), 1)},
		{"signatures over another write", 3, sign(write(3, right), 1, 2)},
		{"one member twice", 4, sign(write(4, wrong), 1, 1)},
		{"garbage", 5, []byte{9, 1, 2}},
	} {
		_, err := client.WriteCertified(ctx, tc.seq, 4096, wrong, tc.cert)
		var se *disk.StatusError
		require.ErrorAs(t, err, &se, tc.name)
		require.Equal(t, disk.StatusUncertified, se.Status, tc.name)
	}
	got, err := client.Read(ctx, 6, 4096, 512)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 512), got, "no uncertified write reached the image")

	n, err := client.WriteCertified(ctx, 7, 4096, right, sign(write(7, right), 1, 3))
	require.NoError(t, err)
	require.Equal(t, 512, n)
	got, err = client.Read(ctx, 8, 4096, 512)
	require.NoError(t, err)
	require.Equal(t, right, got)
}

func TestCertifiedWritesNeedAByzantineClusterAndItsDisk(t *testing.T) {
	dir := t.TempDir()
	_, err := createCluster(dir, cluster.Spec{Nodes: 3,
		Disks: []cluster.Disk{{Name: "j", Size: 1 << 20, Paths: []cluster.DiskPath{{Node: 1, Addr: "127.0.0.1:7420"}}}}})
	require.NoError(t, err)
	path := filepath.Join(dir, cluster.FileName)
	_, err = certifiedWrites(path, "j")
	require.ErrorContains(t, err, "only a Byzantine cluster")
	_, err = certifiedWrites(path, "")
	require.ErrorContains(t, err, "go together")

	bdir := t.TempDir()
	_, err = createCluster(bdir, cluster.Spec{Nodes: 4, Engine: cluster.EngineBFT})
	require.NoError(t, err)
	_, err = certifiedWrites(filepath.Join(bdir, cluster.FileName), "j")
	require.ErrorContains(t, err, `no such disk`)
}
