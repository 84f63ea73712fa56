package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

const reqCols = `id, user_id, service, device_id, category, delivery, execute_at, after_id, body, schedule,
	state, reason, clause, message, received_at, due_at, completed_at, response, pre_command, signed,
	schedule_id, attempts`

func scanRequest(row interface{ Scan(...any) error }) (store.Request, error) {
	var r store.Request
	var exec, recv, due, done int64
	err := row.Scan(&r.ID, &r.UserID, &r.Service, &r.DeviceID, &r.Category, &r.Delivery, &exec, &r.After,
		&r.Body, &r.Schedule, &r.State, &r.Reason, &r.Clause, &r.Message, &recv, &due, &done,
		&r.Response, &r.PreCommand, &r.Signed, &r.ScheduleID, &r.Attempts)
	r.ExecuteAt, r.ReceivedAt, r.DueAt, r.CompletedAt = decTime(exec), decTime(recv), decTime(due), decTime(done)
	r.Body, r.Schedule, r.Response = decBytes(r.Body), decBytes(r.Schedule), decBytes(r.Response)
	r.PreCommand, r.Signed = decBytes(r.PreCommand), decBytes(r.Signed)
	return r, err
}

// requestArgs returns the values of reqCols but the first (id), in order.
func requestArgs(r *store.Request) ([]any, error) {
	var te timeEncoder
	args := []any{r.UserID, r.Service, r.DeviceID, r.Category, r.Delivery, te.enc(r.ExecuteAt), r.After,
		encBytes(r.Body), encBytes(r.Schedule), r.State, r.Reason, r.Clause, r.Message,
		te.enc(r.ReceivedAt), te.enc(r.DueAt), te.enc(r.CompletedAt),
		encBytes(r.Response), encBytes(r.PreCommand), encBytes(r.Signed), r.ScheduleID, r.Attempts}
	return args, te.err
}

// InsertRequest raises the user's counter and inserts the request in one
// transaction (counter 0: inserts only, see store.Store). The counter
// moves with a conditional UPDATE (... WHERE last_counter < counter), so
// of two requests with the same counter, in one process or several,
// exactly one is accepted.
func (s *Store) InsertRequest(ctx context.Context, r store.Request, counter uint64) error {
	if s.commit == nil && s.d.WritableCTE {
		return s.insertRequestAlone(ctx, r, counter)
	}
	fn, err := s.insertRequest(r, counter)
	if err != nil {
		return err
	}
	return s.write(ctx, fn)
}

// The statements a request's writes are made of, alone in a transaction
// or (WritableCTE) joined in one statement.
var (
	insertRequestSQL = `INSERT INTO requests (` + reqCols + `) VALUES (` + placeholders(22) + `)`
	// takeCounterSQL moves a user's counter up to ?: (counter, user, counter).
	takeCounterSQL = `UPDATE users SET last_counter = ? WHERE id = ? AND last_counter < ?`
	// updateRequestSQL writes what may change of a request still in the
	// state it was read in (UpdateRequest's args).
	updateRequestSQL = `UPDATE requests SET delivery = ?, execute_at = ?, body = ?, state = ?, reason = ?,
		clause = ?, message = ?, due_at = ?, completed_at = ?, response = ?, pre_command = ?, signed = ?, attempts = ?
		WHERE id = ? AND state = ? AND (state <> 'executing' OR attempts = ?)`
)

// insertRequestAlone is InsertRequest in one statement, its own
// transaction: the counter's UPDATE in a WITH, the INSERT taking a row
// from it only if it moved. To PostgreSQL that is one round trip, not four
// (BEGIN, UPDATE, INSERT, COMMIT).
func (s *Store) insertRequestAlone(ctx context.Context, r store.Request, counter uint64) error {
	args, err := requestArgs(&r)
	if err != nil {
		return err
	}
	args = append([]any{r.ID}, args...)
	if counter == 0 {
		_, err := s.exec(ctx, s.db, insertRequestSQL, args...)
		return err
	}
	c := encCounter(counter)
	n, err := s.exec(ctx, s.db, `WITH c AS (`+takeCounterSQL+` RETURNING 1)
		INSERT INTO requests (`+reqCols+`) SELECT `+placeholders(22)+` FROM c`, append([]any{c, r.UserID, c}, args...)...)
	if err != nil || n == 1 {
		return err
	}
	return s.counterRefused(ctx, s.db, r)
}

// counterRefused explains a counter that did not move: no such user, the
// request stored already, or a higher counter taken.
func (s *Store) counterRefused(ctx context.Context, q querier, r store.Request) error {
	switch ok, err := s.exists(ctx, q, "users", r.UserID); {
	case err != nil:
		return err
	case !ok:
		return store.ErrNotFound
	}
	switch ok, err := s.exists(ctx, q, "requests", r.ID); {
	case err != nil:
		return err
	case ok:
		return store.ErrDuplicate
	}
	return store.ErrStale
}

var _ store.AsyncInserter = (*Store)(nil)

// InsertRequestAsync implements store.AsyncInserter: with group commit the
// insert is queued to the writer; without, it runs before returning.
func (s *Store) InsertRequestAsync(ctx context.Context, r store.Request, counter uint64) func() error {
	if s.commit == nil {
		err := s.InsertRequest(ctx, r, counter)
		return func() error { return err }
	}
	fn, err := s.insertRequest(r, counter)
	if err != nil {
		return func() error { return err }
	}
	return s.commit.queue(ctx, fn)
}

// insertRequest is InsertRequest's write.
func (s *Store) insertRequest(r store.Request, counter uint64) (txFunc, error) {
	args, err := requestArgs(&r)
	if err != nil {
		return nil, err
	}
	insert := func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, insertRequestSQL, append([]any{r.ID}, args...)...)
		return err
	}
	if counter == 0 { // made by the gateway: the ID alone guards it
		return insert, nil
	}
	c := encCounter(counter)
	return func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, takeCounterSQL, c, r.UserID, c)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.counterRefused(ctx, tx, r)
		}
		return insert(ctx, tx)
	}, nil
}

// GetRequest returns one request or store.ErrNotFound.
func (s *Store) GetRequest(ctx context.Context, id string) (store.Request, error) {
	r, err := scanRequest(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+reqCols+` FROM requests WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Request{}, store.ErrNotFound
	}
	return r, err
}

// ListRequests returns the requests matching f, in the order RequestFilter
// documents.
func (s *Store) ListRequests(ctx context.Context, f store.RequestFilter) ([]store.Request, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"user_id", f.UserID}, {"device_id", f.DeviceID}, {"after_id", f.After}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.After != "" || f.PredecessorDone {
		where = append(where, "after_id <> ''") // the partial index's term (migration 7)
	}
	if f.PredecessorDone {
		where = append(where, "NOT EXISTS (SELECT 1 FROM requests p WHERE p.id = requests.after_id AND p.state NOT IN ("+
			placeholders(len(store.FinalStates))+"))")
		for _, st := range store.FinalStates {
			args = append(args, st)
		}
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	order := " ORDER BY received_at, id"
	if f.Newest {
		order = " ORDER BY received_at DESC, id DESC"
	}
	for _, b := range []struct {
		op string
		at time.Time
	}{{">=", f.ReceivedFrom}, {"<", f.ReceivedBefore}} {
		if b.at.IsZero() {
			continue
		}
		at, err := encTime(b.at)
		if err != nil {
			return nil, err
		}
		where = append(where, "received_at "+b.op+" ?")
		args = append(args, at)
	}
	if !f.DueBefore.IsZero() {
		due, err := encTime(f.DueBefore)
		if err != nil {
			return nil, err
		}
		where = append(where, "execute_at <= ?")
		args = append(args, due)
		order = " ORDER BY execute_at, received_at, id"
	}
	if !f.OverdueBy.IsZero() {
		by, err := encTime(f.OverdueBy)
		if err != nil {
			return nil, err
		}
		where = append(where, "due_at <> ? AND due_at <= ?")
		args = append(args, int64(zeroTime), by)
	}
	q := `SELECT ` + reqCols + ` FROM requests`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += order
	switch {
	case f.Limit > 0:
		q += " LIMIT ?"
		args = append(args, f.Limit)
	case f.Offset > 0:
		q += " LIMIT -1" // SQLite needs a LIMIT before OFFSET
		if s.d.Numbered {
			q = strings.TrimSuffix(q, " LIMIT -1") + " LIMIT ALL"
		}
	}
	if f.Offset > 0 {
		q += " OFFSET ?"
		args = append(args, f.Offset)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRequest)
}

// UpdateRequest replaces the request if it is still in fromState (one
// conditional UPDATE) and appends the deliveries in the same transaction.
// From executing, the stored attempts must also be r's: a process whose
// claim was taken over (store.Leaser) cannot complete the request.
func (s *Store) UpdateRequest(ctx context.Context, r store.Request, fromState string, deliveries []store.Delivery) ([]int64, error) {
	args, err := updateArgs(&r, fromState)
	if err != nil {
		return nil, err
	}
	dargs, err := deliveryArgs(deliveries)
	if err != nil {
		return nil, err
	}
	update := func(ctx context.Context, tx querier) error {
		n, err := s.exec(ctx, tx, updateRequestSQL, args...)
		if err != nil || n > 0 {
			return err
		}
		return s.staleOrMissing(ctx, tx, "requests", r.ID)
	}
	if len(dargs) == 0 {
		return nil, s.write1(ctx, update)
	}
	if len(dargs) == 1 && s.commit == nil && s.d.WritableCTE && s.d.DeliverySeq != "" {
		cursors, err := s.updateDelivering(ctx, updateRequestSQL, args, dargs)
		if err == nil && len(cursors) == 0 {
			err = s.staleOrMissing(ctx, s.db, "requests", r.ID)
		}
		if err != nil {
			return nil, err
		}
		return cursors, nil
	}
	return s.writeDelivering(ctx, func(ctx context.Context, tx *sql.Tx) error { return update(ctx, tx) }, dargs)
}

// updateArgs are the arguments of updateRequestSQL for r from fromState.
// Only what may change after insertion is written: the columns that
// identify a request (user, service, device, category, predecessor,
// receipt, schedule) stay as inserted, so the indexes on them are not
// rewritten on every move of a request (two per request at least).
func updateArgs(r *store.Request, fromState string) ([]any, error) {
	var te timeEncoder
	args := []any{r.Delivery, te.enc(r.ExecuteAt), encBytes(r.Body), r.State, r.Reason, r.Clause, r.Message,
		te.enc(r.DueAt), te.enc(r.CompletedAt), encBytes(r.Response), encBytes(r.PreCommand), encBytes(r.Signed),
		r.Attempts, r.ID, fromState, r.Attempts}
	return args, te.err
}

// updateDelivering runs update (an UPDATE of updateRequestSQL's args) and
// the INSERT of its one delivery in one statement, PostgreSQL: the UPDATE
// in a WITH, the message's INSERT taking a row from it, one round trip
// where a transaction of both takes four. No cursor: the UPDATE changed
// nothing, and nothing was written.
func (s *Store) updateDelivering(ctx context.Context, update string, args []any, dargs [][]any) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`WITH u AS (`+update+` RETURNING 1),
		d AS (INSERT INTO deliveries (seq, `+appendCols+`) SELECT `+s.d.DeliverySeq+`, ?, ?, ?, ?, ?, ?, ?, ? FROM u RETURNING seq)
		SELECT seq FROM d`),
		append(append(args, []string{dargs[0][0].(string)}), dargs[0]...)...)
	if err != nil {
		return nil, err
	}
	cursors, err := collect(rows, scanOne[int64])
	if err != nil {
		return nil, err
	}
	if len(cursors) > 0 {
		s.notifyDeliveries(dargs)
	}
	return cursors, nil
}

// The statements UpdateRequests adds to UpdateRequest's, for an update
// that ends a request (migration 00009 on SQLite, 00010 and 00011 on
// PostgreSQL: the awaited mark, set by the insert of a held request on
// its predecessor's row).
var (
	// endUnawaitedSQL is the end of a request no held request was ever
	// stored naming: the hot path, one statement as UpdateRequest's.
	endUnawaitedSQL = updateRequestSQL + ` AND NOT awaited`
	// heldBehindSQL finds a request still held on ? (the partial index's
	// term with it, migration 7).
	heldBehindSQL = `SELECT 1 FROM requests WHERE after_id = ? AND after_id <> '' AND state = 'held' LIMIT 1`
)

// UpdateRequests implements store.Store: the updates in one transaction,
// each one conditional UPDATE as UpdateRequest's. An update that ends a
// request excludes, in its WHERE, a request marked awaited; where that
// changes nothing, the UPDATE without it tells a marked one (the check for
// a held successor is then made, once every update is written) from one
// that is stale or missing.
//
// On PostgreSQL the check holds against successors stored at the same
// moment because the insert of a held request takes its predecessor's row
// (migration 00012): one stored first is committed before the ending
// UPDATE takes the row, and the check, a statement after it, sees it; one
// stored later waits for the end's commit.
func (s *Store) UpdateRequests(ctx context.Context, updates []store.RequestUpdate) ([][]int64, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	args := make([][]any, len(updates))
	var dargs [][]any
	for i, u := range updates {
		a, err := updateArgs(&u.Request, u.From)
		if err == nil {
			var d [][]any
			d, err = deliveryArgs(u.Deliveries)
			dargs = append(dargs, d...)
		}
		if err != nil {
			return nil, &store.UpdateError{Index: i, Err: err}
		}
		args[i] = a
	}
	split := func(cursors []int64) [][]int64 {
		out := make([][]int64, len(updates))
		for i, u := range updates {
			if n := len(u.Deliveries); n > 0 {
				out[i], cursors = cursors[:n:n], cursors[n:]
			}
		}
		return out
	}
	if len(updates) == 1 && len(dargs) == 1 && updates[0].Request.Final() && s.commit == nil && s.d.WritableCTE && s.d.DeliverySeq != "" {
		// The end of a request with its Service Response, PostgreSQL: one
		// round trip, as UpdateRequest's. Nothing written (stale, or
		// awaited), the transaction below says why.
		cursors, err := s.updateDelivering(ctx, endUnawaitedSQL, args[0], dargs)
		if err != nil {
			return nil, &store.UpdateError{Index: 0, Err: err}
		}
		if len(cursors) == 1 {
			return split(cursors), nil
		}
	}
	cursors, err := s.writeDelivering(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var check []int // ends of marked requests
		for i, u := range updates {
			marked, err := s.updateOne(ctx, tx, u, args[i])
			if err != nil {
				return &store.UpdateError{Index: i, Err: err}
			}
			if marked {
				check = append(check, i)
			}
		}
		for _, i := range check {
			switch ok, err := s.found(ctx, tx, heldBehindSQL, updates[i].Request.ID); {
			case err != nil:
				return &store.UpdateError{Index: i, Err: err}
			case ok:
				return &store.UpdateError{Index: i, Err: store.ErrHeldSuccessor}
			}
		}
		return nil
	}, dargs)
	if err != nil {
		return nil, err
	}
	return split(cursors), nil
}

// updateOne is one update of UpdateRequests, in tx; marked reports an end
// of a request marked awaited, to check for held successors.
func (s *Store) updateOne(ctx context.Context, tx *sql.Tx, u store.RequestUpdate, args []any) (marked bool, err error) {
	if u.Request.Final() {
		n, err := s.exec(ctx, tx, endUnawaitedSQL, args...)
		if err != nil || n > 0 {
			return false, err
		}
	}
	n, err := s.exec(ctx, tx, updateRequestSQL, args...)
	if err != nil || n > 0 {
		return u.Request.Final(), err
	}
	return false, s.staleOrMissing(ctx, tx, "requests", u.Request.ID)
}

// found reports whether query finds a row (inside tx).
func (s *Store) found(ctx context.Context, tx querier, query string, args ...any) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, s.q(query), args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CountRequests counts the requests the filter selects (see
// store.CountFilter).
func (s *Store) CountRequests(ctx context.Context, f store.CountFilter) (int, error) {
	var te timeEncoder
	where := []string{"received_at > ?"}
	args := []any{te.enc(f.Since)}
	if !f.Until.IsZero() {
		where = append(where, "received_at <= ?")
		args = append(args, te.enc(f.Until))
	}
	if te.err != nil {
		return 0, te.err
	}
	if !f.ScheduleRuns {
		where = append(where, "schedule_id = ''")
	}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if len(f.Services) > 0 {
		where = append(where, "service IN ("+placeholders(len(f.Services))+")")
		for _, sv := range f.Services {
			args = append(args, sv)
		}
	}
	if len(f.States) > 0 {
		states := "state IN (" + placeholders(len(f.States)) + ")"
		for _, st := range f.States {
			args = append(args, st)
		}
		if f.ExecutedRejections {
			states = "(" + states + " OR (state = 'rejected' AND attempts > 0))"
		}
		where = append(where, states)
	}
	var n int
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM requests WHERE `+strings.Join(where, " AND ")), args...).Scan(&n)
	return n, err
}
