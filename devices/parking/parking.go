// Package parking keeps the state of parked emulated devices (Fleet.Park)
// in a temporary file, so that a fleet of millions of devices costs memory
// only for those in use. The file is the emulation's, not the gateway's
// record: nothing in it must survive the process (a restarted gateway
// builds its fleet from the inventory again), so it is written without a
// journal or syncs, and removed on Close.
package parking

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Lot is a temporary file of parked premises, by key (a Communications
// Hub's Device ID). It is safe for concurrent use.
type Lot struct {
	mu  sync.Mutex
	dir string
	db  *sql.DB
	put *sql.Stmt
	get *sql.Stmt
	del *sql.Stmt
}

// Open makes a Lot in a new directory under dir ("" means the system's
// temporary directory).
func Open(dir string) (*Lot, error) {
	tmp, err := os.MkdirTemp(dir, "dccgate-parked-")
	if err != nil {
		return nil, err
	}
	l := &Lot{dir: tmp}
	if err := l.open(filepath.Join(tmp, "parked.db")); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Lot) open(path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return err
	}
	l.db = db
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE parked (key TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID`); err != nil {
		return fmt.Errorf("parking: %w", err)
	}
	for _, s := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&l.put, `INSERT INTO parked (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state`},
		{&l.get, `SELECT state FROM parked WHERE key = ?`},
		{&l.del, `DELETE FROM parked WHERE key = ?`},
	} {
		if *s.stmt, err = db.Prepare(s.sql); err != nil {
			return fmt.Errorf("parking: %w", err)
		}
	}
	return nil
}

// Put parks state under key, replacing what was parked there.
func (l *Lot) Put(key string, state []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.put.Exec(key, state); err != nil {
		return fmt.Errorf("parking %s: %w", key, err)
	}
	return nil
}

// Get returns what is parked under key; ok is false when nothing is.
func (l *Lot) Get(key string) (state []byte, ok bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	err = l.get.QueryRow(key).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("parking: reading %s: %w", key, err)
	}
	return state, true, nil
}

// Delete removes what is parked under key (once it is back in the fleet).
func (l *Lot) Delete(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.del.Exec(key); err != nil {
		return fmt.Errorf("parking: removing %s: %w", key, err)
	}
	return nil
}

// Close closes the file and removes it.
func (l *Lot) Close() error {
	var err error
	if l.db != nil {
		err = l.db.Close()
	}
	return errors.Join(err, os.RemoveAll(l.dir))
}
