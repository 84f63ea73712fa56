package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// ResponseTimings returns the requests active in the window with the time
// of their first Service Response. A request received before the window
// is in it only if it executes in it, later than it was received: the
// term execute_at > received_at says so, and lets the query use the
// partial index requests_execute (migration 8).
func (s *Store) ResponseTimings(ctx context.Context, activeSince, receivedBefore time.Time) ([]store.ResponseTiming, error) {
	var te timeEncoder
	since, before := te.enc(activeSince), te.enc(receivedBefore)
	if te.err != nil {
		return nil, te.err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT r.id, r.user_id, r.service, r.category, r.state, r.reason,
			r.pre_command IS NOT NULL, r.after_id <> '', r.received_at, r.execute_at, r.due_at, r.completed_at,
			(SELECT MIN(d.created_at) FROM deliveries d WHERE d.request_id = r.id AND d.kind = 'response')
		FROM requests r
		WHERE r.received_at < ? AND (r.received_at >= ? OR (r.execute_at > r.received_at AND r.execute_at >= ?))
		ORDER BY r.id`), before, since, since)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.ResponseTiming, error) {
		var t store.ResponseTiming
		var recv, exec, due, done int64
		var delivered sql.NullInt64
		err := row.Scan(&t.RequestID, &t.UserID, &t.Service, &t.Category, &t.State, &t.Reason, &t.PreCommand, &t.Held,
			&recv, &exec, &due, &done, &delivered)
		t.ReceivedAt, t.ExecuteAt, t.DueAt, t.CompletedAt = decTime(recv), decTime(exec), decTime(due), decTime(done)
		if delivered.Valid {
			t.DeliveredAt = decTime(delivered.Int64)
		}
		return t, err
	})
}

// AlertDeliveries returns alert deliveries due or created in [from, to).
func (s *Store) AlertDeliveries(ctx context.Context, from, to time.Time) ([]store.Delivery, error) {
	var te timeEncoder
	f, t := te.enc(from), te.enc(to)
	if te.err != nil {
		return nil, te.err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+delCols+` FROM deliveries
		WHERE kind = 'alert' AND ((due_at >= ? AND due_at < ?) OR (created_at >= ? AND created_at < ?))
		ORDER BY seq`), f, t, f, t)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanDelivery)
}

// RequestCounts counts requests received in [from, to) per user and service.
func (s *Store) RequestCounts(ctx context.Context, from, to time.Time, scheduleRuns bool) ([]store.RequestCount, error) {
	var te timeEncoder
	f, t := te.enc(from), te.enc(to)
	if te.err != nil {
		return nil, te.err
	}
	q := `SELECT user_id, service, COUNT(*) FROM requests WHERE received_at >= ? AND received_at < ?`
	if !scheduleRuns {
		q += ` AND schedule_id = ''`
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` GROUP BY user_id, service ORDER BY user_id, service`), f, t)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.RequestCount, error) {
		var c store.RequestCount
		err := row.Scan(&c.UserID, &c.Service, &c.Count)
		return c, err
	})
}

// FirstRequests returns when each user's first request was received.
func (s *Store) FirstRequests(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT user_id, MIN(received_at) FROM requests GROUP BY user_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var u string
		var n int64
		if err := rows.Scan(&u, &n); err != nil {
			return nil, err
		}
		out[u] = decTime(n)
	}
	return out, rows.Err()
}
