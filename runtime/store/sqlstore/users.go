package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dccgate/dccgate/runtime/store"
)

const userCols = "id, role, party, suspended, entered, cert_pem, last_counter"

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var counter int64
	err := row.Scan(&u.ID, &u.Role, &u.Party, &u.Suspended, &u.Entered, &u.CertPEM, &counter)
	u.LastCounter = decCounter(counter)
	return u, err
}

// PutUser inserts or replaces a user but never lowers last_counter (see
// store.Store).
func (s *Store) PutUser(ctx context.Context, u store.User) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET role = excluded.role, party = excluded.party,
				suspended = excluded.suspended, entered = excluded.entered, cert_pem = excluded.cert_pem,
				last_counter = CASE WHEN excluded.last_counter > users.last_counter
					THEN excluded.last_counter ELSE users.last_counter END`,
			u.ID, u.Role, u.Party, u.Suspended, u.Entered, u.CertPEM, encCounter(u.LastCounter))
		return err
	})
}

// GetUser returns one user or store.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	return u, err
}

// ListUsers returns every user by ID.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanUser)
}

// collect scans every row and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanOne reads a row of one column (for collect). The value is read
// after Scan has run: in `return v, r.Scan(&v)` the order is not defined.
func scanOne[T any](r interface{ Scan(...any) error }) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}
