package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.AlertQuarantine = (*Store)(nil)

// QuarantineAlert implements store.AlertQuarantine (migration
// quarantined_alerts).
func (s *Store) QuarantineAlert(ctx context.Context, a store.QuarantinedAlert) (int64, error) {
	raised, err := encTime(a.RaisedAt)
	if err != nil {
		return 0, err
	}
	at, err := encTime(a.QuarantinedAt)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.q(`INSERT INTO quarantined_alerts
			(device_id, code, recipients, payload, reason, clause, detail, raised_at, quarantined_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			a.DeviceID, a.Code, strings.Join(a.Recipients, ","), string(a.Payload), a.Reason, a.Clause, a.Detail, raised, at).Scan(&id)
	})
	return id, err
}

// QuarantinedAlerts implements store.AlertQuarantine.
func (s *Store) QuarantinedAlerts(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantinedAlert, error) {
	q := `SELECT id, device_id, code, recipients, payload, reason, clause, detail, raised_at, quarantined_at
		FROM quarantined_alerts WHERE id > ?`
	args := []any{f.AfterID}
	if f.DeviceID != "" {
		q += " AND device_id = ?"
		args = append(args, f.DeviceID)
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanQuarantined)
}

// scanQuarantined reads a row of QuarantinedAlerts' query.
func scanQuarantined(r interface{ Scan(...any) error }) (store.QuarantinedAlert, error) {
	var a store.QuarantinedAlert
	var recipients, payload string
	var raised, at int64
	if err := r.Scan(&a.ID, &a.DeviceID, &a.Code, &recipients, &payload, &a.Reason, &a.Clause, &a.Detail, &raised, &at); err != nil {
		return a, err
	}
	if recipients != "" {
		a.Recipients = strings.Split(recipients, ",")
	}
	if payload != "" {
		a.Payload = []byte(payload)
	}
	a.RaisedAt, a.QuarantinedAt = decTime(raised), decTime(at)
	return a, nil
}
