package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

const schedCols = "id, user_id, device_id, service, every_ns, next_at, body, created_by, first_at"

func scanSchedule(row interface{ Scan(...any) error }) (store.Schedule, error) {
	var sc store.Schedule
	var every, next, first int64
	err := row.Scan(&sc.ID, &sc.UserID, &sc.DeviceID, &sc.Service, &every, &next, &sc.Body, &sc.CreatedBy, &first)
	sc.Every, sc.Next, sc.First, sc.Body = time.Duration(every), decTime(next), decTime(first), decBytes(sc.Body)
	return sc, err
}

// PutSchedule inserts or replaces a schedule.
func (s *Store) PutSchedule(ctx context.Context, sc store.Schedule) error {
	next, err := encTime(sc.Next)
	if err != nil {
		return err
	}
	if sc.First.IsZero() {
		sc.First = sc.Next
	}
	first, err := encTime(sc.First)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO schedules (`+schedCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, device_id = excluded.device_id,
				service = excluded.service, every_ns = excluded.every_ns, next_at = excluded.next_at,
				body = excluded.body, created_by = excluded.created_by, first_at = excluded.first_at`,
			sc.ID, sc.UserID, sc.DeviceID, sc.Service, int64(sc.Every), next, encBytes(sc.Body), sc.CreatedBy, first)
		return err
	})
}

// DeleteSchedule deletes a schedule or returns store.ErrNotFound.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `DELETE FROM schedules WHERE id = ?`, id)
		if err == nil && n == 0 {
			return store.ErrNotFound
		}
		return err
	})
}

// ListSchedules returns the schedules matching f by Next, then ID.
func (s *Store) ListSchedules(ctx context.Context, f store.ScheduleFilter) ([]store.Schedule, error) {
	var where []string
	var args []any
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.DeviceID != "" {
		where = append(where, "device_id = ?")
		args = append(args, f.DeviceID)
	}
	if !f.DueBefore.IsZero() {
		due, err := encTime(f.DueBefore)
		if err != nil {
			return nil, err
		}
		where = append(where, "next_at <= ?")
		args = append(args, due)
	}
	q := `SELECT ` + schedCols + ` FROM schedules`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY next_at, id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanSchedule)
}

// AdvanceSchedule moves Next from `from` to `to` in one conditional
// statement, so of several workers that saw the same run, one runs it.
func (s *Store) AdvanceSchedule(ctx context.Context, id string, from, to time.Time) error {
	var te timeEncoder
	fromN, toN := te.enc(from), te.enc(to)
	if te.err != nil {
		return te.err
	}
	return s.write1(ctx, func(ctx context.Context, tx querier) error {
		n, err := s.exec(ctx, tx, `UPDATE schedules SET next_at = ? WHERE id = ? AND next_at = ?`, toN, id, fromN)
		if err != nil || n == 1 {
			return err
		}
		return s.staleOrMissing(ctx, tx, "schedules", id)
	})
}
