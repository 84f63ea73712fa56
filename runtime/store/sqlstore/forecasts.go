package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// PutForecasts files each forecast as the next revision of its (user,
// service, month), all in one transaction.
func (s *Store) PutForecasts(ctx context.Context, fs []store.Forecast) error {
	filed := make([]int64, len(fs))
	for i, f := range fs {
		var err error
		if filed[i], err = encTime(f.FiledAt); err != nil {
			return err
		}
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for i, f := range fs {
			var last sql.NullInt64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT MAX(revision) FROM forecasts
				WHERE user_id = ? AND service = ? AND month = ?`), f.UserID, f.Service, f.Month).Scan(&last); err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO forecasts (user_id, service, month, revision, requests, filed_at)
				VALUES (?, ?, ?, ?, ?, ?)`, f.UserID, f.Service, f.Month, last.Int64+1, f.Count, filed[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Forecasts lists forecasts by user, service, month then revision.
func (s *Store) Forecasts(ctx context.Context, f store.ForecastFilter) ([]store.Forecast, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"user_id", f.UserID}, {"service", f.Service}, {"month", f.Month}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.FiledBefore.IsZero() {
		n, err := encTime(f.FiledBefore)
		if err != nil {
			return nil, err
		}
		where = append(where, "filed_at < ?")
		args = append(args, n)
	}
	q := `SELECT user_id, service, month, revision, requests, filed_at FROM forecasts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+" ORDER BY user_id, service, month, revision"), args...)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(row interface{ Scan(...any) error }) (store.Forecast, error) {
		var fc store.Forecast
		var filed int64
		err := row.Scan(&fc.UserID, &fc.Service, &fc.Month, &fc.Revision, &fc.Count, &filed)
		fc.FiledAt = decTime(filed)
		return fc, err
	})
	if err != nil || !f.Latest {
		return out, err
	}
	latest := out[:0]
	for i, fc := range out {
		if i+1 < len(out) {
			n := out[i+1]
			if n.UserID == fc.UserID && n.Service == fc.Service && n.Month == fc.Month {
				continue
			}
		}
		latest = append(latest, fc)
	}
	return latest, nil
}

// utcDay is the UTC midnight of t's date.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// PutEnrolmentCounts replaces a day's counts.
func (s *Store) PutEnrolmentCounts(ctx context.Context, day time.Time, counts map[string]int, recordedAt time.Time) error {
	if day.IsZero() {
		return errors.New("store: an enrolment count needs a day")
	}
	var te timeEncoder
	d, rec := te.enc(utcDay(day)), te.enc(recordedAt)
	if te.err != nil {
		return te.err
	}
	users := slices.Sorted(maps.Keys(counts))
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The day's row first, an upsert: processes sharing a store that
		// record the same day at once take their turns on it (PostgreSQL;
		// a delete first let two insert it, or deadlock on the counts).
		if _, err := s.exec(ctx, tx, `INSERT INTO enrolment_days (day, recorded_at) VALUES (?, ?)
			ON CONFLICT (day) DO UPDATE SET recorded_at = excluded.recorded_at`, d, rec); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `DELETE FROM enrolment_counts WHERE day = ?`, d); err != nil {
			return err
		}
		for _, u := range users {
			if _, err := s.exec(ctx, tx, `INSERT INTO enrolment_counts (day, user_id, systems) VALUES (?, ?, ?)`, d, u, counts[u]); err != nil {
				return err
			}
		}
		return nil
	})
}

// EnrolmentCounts returns a day's counts and whether it was recorded.
func (s *Store) EnrolmentCounts(ctx context.Context, day time.Time) (map[string]int, bool, error) {
	d, err := encTime(utcDay(day))
	if err != nil {
		return nil, false, err
	}
	var one int
	err = s.rdb.QueryRowContext(ctx, s.q(`SELECT 1 FROM enrolment_days WHERE day = ?`), d).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT user_id, systems FROM enrolment_counts WHERE day = ?`), d)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var u string
		var n int
		if err := rows.Scan(&u, &n); err != nil {
			return nil, false, err
		}
		out[u] = n
	}
	return out, true, rows.Err()
}
