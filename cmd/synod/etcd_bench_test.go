package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// startEtcd starts a 3-member etcd cluster on loopback, when etcd is
// installed (Debian's etcd-server), and returns its client endpoints and
// the members' pids. The members stop with the benchmark.
func startEtcd(b *testing.B) (endpoints []string, pids []int, ok bool) {
	path, err := exec.LookPath("etcd")
	if err != nil {
		return nil, nil, false
	}
	dir := b.TempDir()
	var clientURLs, peerURLs, initial []string
	for i := range 3 {
		clientURLs = append(clientURLs, fmt.Sprintf("http://127.0.0.1:%d", freeTCPPort(b)))
		peerURLs = append(peerURLs, fmt.Sprintf("http://127.0.0.1:%d", freeTCPPort(b)))
		initial = append(initial, fmt.Sprintf("e%d=%s", i, peerURLs[i]))
	}
	for i := range 3 {
		cmd := exec.Command(path, "--name", fmt.Sprintf("e%d", i), "--data-dir", filepath.Join(dir, fmt.Sprint(i)),
			"--listen-client-urls", clientURLs[i], "--advertise-client-urls", clientURLs[i],
			"--listen-peer-urls", peerURLs[i], "--initial-advertise-peer-urls", peerURLs[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new")
		require.NoError(b, cmd.Start())
		pids = append(pids, cmd.Process.Pid)
		b.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	for _, u := range clientURLs {
		deadline := time.Now().Add(patience)
		for {
			r, err := http.Get(u + "/health")
			if err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					break
				}
			}
			require.True(b, time.Now().Before(deadline), "etcd at %s never became healthy", u)
			time.Sleep(50 * time.Millisecond)
		}
	}
	return clientURLs, pids, true
}

// etcdClient is one client of an etcd member through etcd's own gRPC
// client, on a connection of its own. Reads are etcd's default,
// linearizable: like the example guest's, they go through consensus.
type etcdClient struct {
	cli *clientv3.Client
}

func newEtcdClient(endpoint string) (*etcdClient, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: patience,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client of %s: %w", endpoint, err)
	}
	return &etcdClient{cli: cli}, nil
}

func (c *etcdClient) Close() error { return c.cli.Close() }

func (c *etcdClient) do(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	switch {
	case args[0] == "SET" && len(args) == 3:
		if _, err := c.cli.Put(ctx, args[1], args[2]); err != nil {
			return "", fmt.Errorf("etcd put %s: %w", args[1], err)
		}
		return "OK", nil
	case args[0] == "GET" && len(args) == 2:
		r, err := c.cli.Get(ctx, args[1])
		if err != nil {
			return "", fmt.Errorf("etcd get %s: %w", args[1], err)
		}
		if len(r.Kvs) == 0 {
			return "(nil)", nil
		}
		return string(r.Kvs[0].Value), nil
	}
	return "", fmt.Errorf("etcd client: no %q", args)
}
