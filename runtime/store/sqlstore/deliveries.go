package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dccgate/dccgate/runtime/store"
)

const delCols = "seq, user_id, kind, request_id, code, device_id, payload, created_at, due_at"

func scanDelivery(row interface{ Scan(...any) error }) (store.Delivery, error) {
	var d store.Delivery
	var created, due int64
	err := row.Scan(&d.Cursor, &d.UserID, &d.Kind, &d.RequestID, &d.Code, &d.DeviceID, &d.Payload, &created, &due)
	d.CreatedAt, d.DueAt, d.Payload = decTime(created), decTime(due), decBytes(d.Payload)
	return d, err
}

// deliveryArgs encodes the deliveries before a transaction starts, so a
// bad time fails without touching the database.
func deliveryArgs(ds []store.Delivery) ([][]any, error) {
	out := make([][]any, len(ds))
	for i, d := range ds {
		var te timeEncoder
		out[i] = []any{d.UserID, d.Kind, d.RequestID, d.Code, d.DeviceID, encBytes(d.Payload),
			te.enc(d.CreatedAt), te.enc(d.DueAt)}
		if te.err != nil {
			return nil, te.err
		}
	}
	return out, nil
}

// appendDeliveries inserts deliveries in order inside tx and returns the
// cursors the database assigned.
func (s *Store) appendDeliveries(ctx context.Context, tx *sql.Tx, args [][]any) ([]int64, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if s.d.DeliverySeq != "" {
		return s.appendLocked(ctx, tx, args)
	}
	// SQLite: the cursor is the rowid, which an Exec's result carries; a
	// RETURNING read through rows cost the writer as much again as the
	// insert itself.
	q := s.q(insertDeliveries + deliveryRow)
	cursors := make([]int64, len(args))
	for i, a := range args {
		res, err := tx.ExecContext(ctx, q, a...)
		if err == nil {
			cursors[i], err = res.LastInsertId()
		}
		if err != nil {
			return nil, err
		}
	}
	return cursors, nil
}

const (
	appendCols       = `user_id, kind, request_id, code, device_id, payload, created_at, due_at`
	insertDeliveries = `INSERT INTO deliveries (` + appendCols + `) VALUES `
	deliveryRow      = `(?, ?, ?, ?, ?, ?, ?, ?)`
	// rowsAStatement bounds the rows of one multi-row insert (9
	// placeholders each: PostgreSQL takes 65,535).
	rowsAStatement = 256
)

// appendLocked is appendDeliveries with Dialect.DeliverySeq: one
// statement inserts the rows (a few hundred at a time), the first taking
// the locks of every user appended to as it takes its cursor (in one
// order for every appender: no deadlock).
func (s *Store) appendLocked(ctx context.Context, tx *sql.Tx, args [][]any) ([]int64, error) {
	users := make([]string, 0, len(args))
	for _, a := range args {
		users = append(users, a[0].(string))
	}
	slices.Sort(users)
	users = slices.Compact(users)
	row := "(" + s.d.DeliverySeq + ", ?, ?, ?, ?, ?, ?, ?, ?)"
	cursors := make([]int64, 0, len(args))
	for chunk := range slices.Chunk(args, rowsAStatement) {
		q := `INSERT INTO deliveries (seq, ` + appendCols + `) VALUES ` + row + strings.Repeat(", "+row, len(chunk)-1) + " RETURNING seq"
		flat := make([]any, 0, len(chunk)*9)
		for _, a := range chunk {
			flat = append(append(flat, users), a...)
			users = []string{} // taken: the other rows name none
		}
		rows, err := tx.QueryContext(ctx, s.q(q), flat...)
		if err != nil {
			return nil, err
		}
		seqs, err := collect(rows, scanOne[int64])
		if err != nil {
			return nil, err
		}
		if len(seqs) != len(chunk) {
			return nil, fmt.Errorf("store: inserting %d deliveries returned %d cursors", len(chunk), len(seqs))
		}
		// The rows take their cursors in the order of VALUES; RETURNING
		// need not list them in that order.
		slices.Sort(seqs)
		cursors = append(cursors, seqs...)
	}
	return cursors, nil
}

// publish hands committed deliveries to the tail, if kept.
func (s *Store) publish(args [][]any, cursors []int64) {
	if s.tail != nil && len(args) > 0 {
		s.tail.publish(published(args, cursors))
	}
}

// forgetTail drops the tail's users after a deletion of deliveries.
func (s *Store) forgetTail() {
	if s.tail != nil {
		s.tail.forget()
	}
}

// AppendDeliveries appends messages in one transaction and returns their
// cursors in order.
func (s *Store) AppendDeliveries(ctx context.Context, ds []store.Delivery) ([]int64, error) {
	args, err := deliveryArgs(ds)
	if err != nil || len(args) == 0 {
		return nil, err
	}
	if s.appender == nil {
		return s.writeDelivering(ctx, nil, args)
	}
	cursors, err := s.appender.append(ctx, args)
	if err != nil {
		return nil, err
	}
	s.notifyDeliveries(args)
	return cursors, nil
}

// writeDelivering runs work (if any) in a write transaction and appends
// the deliveries of args in it; once committed, they are published to
// the stream tail and the other processes are told: what every write that
// puts messages on users' streams does.
func (s *Store) writeDelivering(ctx context.Context, work txFunc, args [][]any) ([]int64, error) {
	var cursors []int64
	err := s.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if work != nil {
			if err := work(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		cursors, err = s.appendDeliveries(ctx, tx, args)
		return err
	}, func() { s.publish(args, cursors) })
	if err != nil {
		return nil, err
	}
	s.notifyDeliveries(args)
	return cursors, nil
}

// notifyDeliveries asks the notifier to tell the other processes that
// deliveries (as deliveryArgs encodes them) were appended (a no-op without
// Dialect.NotifyDeliveries).
func (s *Store) notifyDeliveries(args [][]any) {
	if s.notify == nil {
		return
	}
	s.noted.add(args)
	select {
	case s.notify <- struct{}{}:
	default: // one is pending: it covers this append too
	}
}

// startNotifier runs Dialect.NotifyDeliveries once for each wake-up (see
// notifyDeliveries) until Close.
func (s *Store) startNotifier() {
	s.notify = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopNote = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.notify:
			}
			// A lost notification costs a reader its next poll, no more.
			_ = s.runNotify(ctx)
		}
	}()
}

func (s *Store) runNotify(ctx context.Context) error {
	note, ok := s.noted.take()
	if !ok {
		return nil
	}
	note = withOrigin(s.origin, note)
	if len(s.d.NotifyDeliveries) == 1 {
		_, err := s.db.ExecContext(ctx, s.q(s.d.NotifyDeliveries[0]), note)
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for i, q := range s.d.NotifyDeliveries {
		var args []any
		if i == len(s.d.NotifyDeliveries)-1 {
			args = []any{note}
		}
		if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// StreamEnd returns the cursor of a user's newest message, 0 if it has
// none (by the index on user and cursor: one step, however long the
// stream). Appends reach a user's stream in cursor order (AppendDeliveries),
// so no message of the user below it can appear later.
func (s *Store) StreamEnd(ctx context.Context, userID string) (int64, error) {
	var end int64
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE user_id = ?`), userID).Scan(&end)
	return end, err
}

// Deliveries returns messages with cursor > after in cursor order, of one
// user or (userID "") of all.
func (s *Store) Deliveries(ctx context.Context, userID string, after int64, limit int) ([]store.Delivery, error) {
	if s.tail != nil && userID != "" {
		if ds, ok := s.tail.read(userID, after, limit); ok {
			return ds, nil
		}
	}
	q := `SELECT ` + delCols + ` FROM deliveries WHERE seq > ?`
	args := []any{after}
	if userID != "" {
		q += " AND user_id = ?"
		args = append(args, userID)
	}
	q += " ORDER BY seq"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	if userID != "" || s.d.LockAllDeliveries == "" {
		rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
		if err != nil {
			return nil, err
		}
		return collect(rows, scanDelivery)
	}
	// Read committed: the query's snapshot must be taken after the lock.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.d.LockAllDeliveries); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	ds, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, err
	}
	return ds, tx.Commit()
}
