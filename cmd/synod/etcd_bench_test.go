package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startEtcd starts a 3-member etcd cluster on loopback, when etcd is
// installed, and returns its client endpoints. The members stop with the
// benchmark.
func startEtcd(b *testing.B) ([]string, bool) {
	path, err := exec.LookPath("etcd")
	if err != nil {
		return nil, false
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
	return clientURLs, true
}

// etcdClient speaks to one etcd member through its JSON gateway, so that
// the benchmark needs no etcd client library. Reads are etcd's default,
// linearizable: like the example guest's, they go through consensus.
type etcdClient struct {
	url  string
	http *http.Client
}

func newEtcdClient(url string) *etcdClient {
	return &etcdClient{url: url, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
}

func (c *etcdClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

func (c *etcdClient) do(args ...string) (string, error) {
	enc := base64.StdEncoding.EncodeToString
	var path string
	body := map[string]string{"key": enc([]byte(args[1]))}
	switch args[0] {
	case "SET":
		path, body["value"] = "/v3/kv/put", enc([]byte(args[2]))
	case "GET":
		path = "/v3/kv/range"
	default:
		return "", fmt.Errorf("etcd client: no %s", args[0])
	}
	req, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	r, err := c.http.Post(c.url+path, "application/json", bytes.NewReader(req))
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(r.Body); err != nil {
		return "", err
	}
	if r.StatusCode != http.StatusOK {
		return "", fmt.Errorf("etcd %s: %s: %s", path, r.Status, out.String())
	}
	return out.String(), nil
}
