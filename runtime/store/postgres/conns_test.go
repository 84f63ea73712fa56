package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestMaxConns: the URL's max_conns bounds the pool and is not passed on
// to the server (pgx would send it as a setting, which PostgreSQL
// refuses).
func TestMaxConns(t *testing.T) {
	tests := []struct {
		dsn, want string
		n         int
		err       bool
	}{
		{dsn: "postgres://u@h:5432/db?sslmode=disable", want: "postgres://u@h:5432/db?sslmode=disable", n: DefaultMaxConns},
		{dsn: "postgres://u@h/db?max_conns=8&sslmode=disable", want: "postgres://u@h/db?sslmode=disable", n: 8},
		{dsn: "postgresql://u@h/db?max_conns=64", want: "postgresql://u@h/db", n: 64},
		{dsn: "host=h dbname=db", want: "host=h dbname=db", n: DefaultMaxConns},
		{dsn: "postgres://u@h/db?max_conns=1", err: true},
		{dsn: "postgres://u@h/db?max_conns=many", err: true},
	}
	for _, tc := range tests {
		got, n, err := maxConns(tc.dsn)
		if (err != nil) != tc.err || !tc.err && (got != tc.want || n != tc.n) {
			t.Errorf("maxConns(%q) = %q, %d, %v; want %q, %d, error %v", tc.dsn, got, n, err, tc.want, tc.n, tc.err)
		}
	}
}

// TestTransient: the errors that pass with time are told from the work's
// own failures.
func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{&pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "40001"}, true},
		{fmt.Errorf("update 0: %w", &pgconn.PgError{Code: "57P01"}), true},
		{io.ErrUnexpectedEOF, true},
		{&pgconn.PgError{Code: "23505"}, false}, // a duplicate key
		{&pgconn.PgError{Code: "22003"}, false}, // out of range
		{store.ErrStale, false},
		{errors.New("something else"), false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := store.Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
