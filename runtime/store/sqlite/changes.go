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
	"sync/atomic"
	"unsafe"
)

// changes is sqlstore.Changes and sqlstore.DeliverySignal for a database
// file: two 8-byte values in the file beside it (PATH-changes), the
// inventory's and the deliveries', each rewritten with a random value at
// every bump. A random value, not a count: two processes bumping at once
// cannot leave it where a reader saw it last. Its content is not durable
// and needs not be: the caches it guards live in memory.
//
// The 16 bytes are read and written through a shared mapping of the file
// where the system has one (m), as atomic 8-byte loads and stores: every
// read of the inventory or of a stream compares a token first, several
// times a request, and a pread each was a system call each.
type changes struct {
	f *os.File
	m []byte // the file's first changesLen bytes, mapped shared; nil: pread and pwrite
}

// changesLen is the file's size: the two values.
const changesLen = 16

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
	c := &changes{f: f}
	// A new file (or one an older version left at 8 bytes) is extended
	// with zeros, which read as the token 0 as its absence did; it never
	// shrinks, so a value another process wrote meanwhile stays.
	if st, err := f.Stat(); err == nil && st.Size() < changesLen {
		err = f.Truncate(changesLen)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	if m, err := mapShared(f, changesLen); err == nil {
		c.m = m
	}
	return c, nil
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
	if c.m != nil {
		return fromFile(atomic.LoadUint64(c.word(off))), nil
	}
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
	if c.m != nil {
		atomic.StoreUint64(c.word(off), fromFile(v))
		return v, nil
	}
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := c.f.WriteAt(b[:], off)
	return v, err
}

// word is the mapped value at off (0 or 8: aligned, as the mapping is).
func (c *changes) word(off int64) *uint64 {
	return (*uint64)(unsafe.Pointer(&c.m[off]))
}

// fromFile turns a word as loaded from the file's little-endian bytes into
// its value, and back (the same swap, or none on a little-endian machine).
func fromFile(w uint64) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], w)
	return binary.LittleEndian.Uint64(b[:])
}

func (c *changes) Close() error {
	var err error
	if c.m != nil {
		err = unmap(c.m)
		c.m = nil
	}
	return errors.Join(err, c.f.Close())
}

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
