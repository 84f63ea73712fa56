package sqlstore

import (
	"context"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.Walker = (*Store)(nil)

// WalkDevicesByHub streams the inventory grouped by Communications Hub:
// one ordered scan, holding one hub's devices at a time.
func (s *Store) WalkDevicesByHub(ctx context.Context, fn func(group []store.Device) error) error {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+devCols+`, CASE WHEN chf = '' THEN id ELSE chf END AS hub
		FROM devices ORDER BY hub, CASE WHEN chf = '' THEN 0 ELSE 1 END, id`))
	if err != nil {
		return err
	}
	defer rows.Close()
	var group []store.Device
	var hub string
	for rows.Next() {
		var d store.Device
		var updated int64
		var h string
		if err := rows.Scan(&d.ID, &d.Type, &d.Status, &d.MPxN, &d.CHF, &d.Meter, &d.Credentials, &updated, &h); err != nil {
			return err
		}
		d.UpdatedAt = decTime(updated)
		if h != hub && len(group) > 0 {
			if err := fn(group); err != nil {
				return err
			}
			group = group[:0]
		}
		hub = h
		group = append(group, d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(group) > 0 {
		return fn(group)
	}
	return nil
}

// WalkRegistrationsInEffect streams the record of each MPxN in effect at
// `at`, by MPxN.
func (s *Store) WalkRegistrationsInEffect(ctx context.Context, at time.Time, fn func(store.Registration) error) error {
	atN, err := encTime(at)
	if err != nil {
		return err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+prefixed("r.", regCols)+` FROM `+inEffectAt+` ORDER BY r.mpxn`), atN)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}
