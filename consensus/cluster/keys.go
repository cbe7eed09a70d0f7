package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"

	"github.com/synodvm/synod/consensus"
)

// pskHeader starts a pre-shared key file in libp2p's V1 format (the same
// file IPFS calls swarm.key), so standard tools can read and make one.
const pskHeader = "/key/swarm/psk/1.0.0/\n/base16/\n"

// LoadKey reads node id's private key file and checks that it is private,
// is ed25519 and matches the node's peer_id.
func (c *Config) LoadKey(id consensus.NodeID) (crypto.PrivKey, error) {
	n, err := c.Node(id)
	if err != nil {
		return nil, err
	}
	path := c.Path(n.KeyFile)
	if err := privateMode(path); err != nil {
		return nil, fmt.Errorf("node %d key: %w", id, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node %d key: %w", id, err)
	}
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("node %d key %s: not a libp2p private key: %w", id, path, err)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("node %d key %s: a %s key; synod uses ed25519", id, path, key.Type())
	}
	got, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("node %d key %s: %w", id, path, err)
	}
	if got != n.PeerID {
		return nil, fmt.Errorf("node %d key %s is the key of peer %s, but the config says peer_id %s", id, path, got, n.PeerID)
	}
	return key, nil
}

func (c *Config) loadPSK(configPath string) (pnet.PSK, error) {
	if c.PSK != "" {
		if err := privateMode(configPath); err != nil {
			return nil, fmt.Errorf("inline psk: %w", err)
		}
		key, err := hex.DecodeString(c.PSK)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("inline psk is not 64 hex digits")
		}
		return key, nil
	}
	path := c.Path(c.PSKFile)
	if err := privateMode(path); err != nil {
		return nil, fmt.Errorf("psk_file: %w", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("psk_file: %w", err)
	}
	key, err := pnet.DecodeV1PSK(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("psk_file %s: not a libp2p pre-shared key file: %w", path, err)
	}
	return key, nil
}

// NewPSK makes a random 32-byte pre-shared key.
func NewPSK() (pnet.PSK, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("new psk: %w", err)
	}
	return key, nil
}

// WritePSKFile writes key in libp2p's V1 format with mode 0600, refusing to
// replace an existing file.
func WritePSKFile(path string, key pnet.PSK) error {
	return writeSecret(path, []byte(pskHeader+hex.EncodeToString(key)+"\n"))
}

// WriteKeyFile writes a libp2p-marshalled private key with mode 0600,
// refusing to replace an existing file.
func WriteKeyFile(path string, key crypto.PrivKey) error {
	raw, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return writeSecret(path, raw)
}

func writeSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
