package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// changes is sqlstore.Changes and sqlstore.DeliverySignal for a database
// file: two 8-byte values in the file beside it (PATH-changes), the
// inventory's and the deliveries', each rewritten with a random value at
// every bump. A random value, not a count: two processes bumping at once
// cannot leave it where a reader saw it last. Its content is not durable
// and needs not be: the caches it guards live in memory.
type changes struct{ f *os.File }

// The file is named after the database's real path (links resolved, as
// SQLite names its -wal and -shm files), so every process opening the
// database by whatever name shares it, and is made with the database
// file's permissions, so whoever may write the database may bump it.
func openChanges(dbPath string) (*changes, error) {
	real, err := filepath.EvalSymlinks(dbPath)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(real+"-changes", os.O_RDWR|os.O_CREATE, fi.Mode().Perm())
	if err != nil {
		return nil, err
	}
	return &changes{f: f}, nil
}

// Token reads the value (0 for a new file).
func (c *changes) Token() (uint64, error) { return c.read(0) }

// DeliveriesToken reads the second value, which BumpDeliveries moves
// after every commit of a store that keeps deliveries in memory
// (sqlstore.DeliverySignal).
func (c *changes) DeliveriesToken() (uint64, error) { return c.read(8) }

// BumpDeliveries writes a new random second value and returns it.
func (c *changes) BumpDeliveries() (uint64, error) { return c.write(8, 0) }

func (c *changes) read(off int64) (uint64, error) {
	var b [8]byte
	n, err := c.f.ReadAt(b[:], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if n < len(b) {
		return 0, nil
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Begin writes a new odd first value: a write is under way.
func (c *changes) Begin() error {
	_, err := c.write(0, 1)
	return err
}

// Bump writes a new even first value: the write is done.
func (c *changes) Bump() error {
	_, err := c.write(0, 0)
	return err
}

// write puts a new random value with low bit low at off, and returns it.
func (c *changes) write(off int64, low uint64) (uint64, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := binary.LittleEndian.Uint64(b[:])&^1 | low
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := c.f.WriteAt(b[:], off)
	return v, err
}

func (c *changes) Close() error { return c.f.Close() }

// settle bumps a token left odd by a writer that died between Begin and
// Bump, so that the caches of the processes opening the file from then on
// keep what they read again. It holds the database's write lock while it
// looks, so no writer is inside its transaction meanwhile; one that marked
// Begin and waits for the lock bumps again after its commit.
func (c *changes) settle(ctx context.Context, wdb *sql.DB) error {
	if tok, err := c.Token(); err != nil || tok&1 == 0 {
		return err
	}
	tx, err := wdb.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the writer's _txlock)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM sqlite_master LIMIT 1"); err != nil {
		return err
	}
	if tok, err := c.Token(); err != nil || tok&1 == 0 {
		return err
	}
	return c.Bump()
}
