package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// shareStore sets what a gateway needs to share its store with other
// processes: every store but SQLite's single file is shared (several
// `dccgate serve` on one PostgreSQL database share the work, see
// runtime/gateway/lease.go), and the CoS Party's key comes from the PKI
// directory, so that a Change of Supplier signed by one process verifies
// on another, and on this one after a restart.
func shareStore(gc *gateway.Config, cfg Config, storeURL string) error {
	gc.Shared = store.Scheme(storeURL) != "sqlite"
	gc.Lease = cfg.Lease
	if cfg.PKI == nil || cfg.PKI.Dir == "" {
		return nil
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.PKI.Dir, "cos-key.pem"))
	if err != nil {
		return err
	}
	gc.CoSKey = key
	return nil
}

// loadOrCreateKey reads a P-256 key, or makes one. Processes starting
// together agree on one: each writes a key of its own to a temporary file
// and links it to path, which fails for all but the first.
func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		return pki.ParseKey(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pemKey, err := pki.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cos-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pemKey); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return pki.ParseKey(b)
}
