package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// maxCachedStmts bounds the statements a connection keeps prepared. Queries
// with a variable number of placeholders (IN lists) would otherwise grow
// the cache without end; past the bound they are prepared each time.
const maxCachedStmts = 256

// openCached opens dsn with a statement cache on each connection. SQLite
// spends more time parsing and planning a short statement than running
// it; the store runs a few dozen distinct statements thousands of times a
// second, so each connection prepares each once and reuses it.
//
// database/sql prepares through the connection whenever the driver's
// connection does not run queries directly, so cachingConn leaves out
// ExecerContext and QueryerContext and serves PrepareContext from its
// cache; the statement's Close only hands it back.
func openCached(dsn string) *sql.DB {
	return sql.OpenDB(connector{dsn: dsn})
}

type connector struct{ dsn string }

func (c connector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{inner: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c connector) Driver() driver.Driver { return &sqlite.Driver{} }

// inner is what the modernc connection implements beside driver.Conn.
type inner interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachingConn struct {
	inner driver.Conn
	stmts map[string]*cachedStmt
}

var (
	_ driver.ConnPrepareContext = (*cachingConn)(nil)
	_ driver.ConnBeginTx        = (*cachingConn)(nil)
	_ driver.Pinger             = (*cachingConn)(nil)
	_ driver.SessionResetter    = (*cachingConn)(nil)
	_ driver.Validator          = (*cachingConn)(nil)
)

func (c *cachingConn) in() (inner, error) {
	i, ok := c.inner.(inner)
	if !ok {
		return nil, errors.New("store: sqlite: the driver's connection lacks a method the statement cache needs")
	}
	return i, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		return s, nil
	}
	i, err := c.in()
	if err != nil {
		return nil, err
	}
	st, err := i.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if _, taken := c.stmts[query]; taken || len(c.stmts) >= maxCachedStmts {
		// In use (a statement run while its own rows are open) or the
		// cache is full: this one is closed after use.
		return st, nil
	}
	s := &cachedStmt{Stmt: st, busy: true}
	c.stmts[query] = s
	return s, nil
}

func (c *cachingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.inner.Close())...)
}

func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	i, err := c.in()
	if err != nil {
		return nil, err
	}
	return i.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	i, err := c.in()
	if err != nil {
		return err
	}
	return i.Ping(ctx)
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	i, err := c.in()
	if err != nil {
		return err
	}
	return i.ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool {
	i, err := c.in()
	return err == nil && i.IsValid()
}

// cachedStmt is a prepared statement kept for reuse: Close returns it to
// its connection's cache.
type cachedStmt struct {
	driver.Stmt
	busy bool
}

func (s *cachedStmt) Close() error {
	s.busy = false
	return nil
}

func (s *cachedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *cachedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
