package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

const devCols = "id, type, status, mpxn, chf, meter, credentials, updated_at"

func scanDevice(row interface{ Scan(...any) error }) (store.Device, error) {
	var d store.Device
	var updated int64
	err := row.Scan(&d.ID, &d.Type, &d.Status, &d.MPxN, &d.CHF, &d.Meter, &d.Credentials, &updated)
	d.UpdatedAt = decTime(updated)
	return d, err
}

// PutDevice inserts or replaces an inventory entry.
func (s *Store) PutDevice(ctx context.Context, d store.Device) error {
	updated, err := encTime(d.UpdatedAt)
	if err != nil {
		return err
	}
	defer s.writeInventory()()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO devices (`+devCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET type = excluded.type, status = excluded.status,
				mpxn = excluded.mpxn, chf = excluded.chf, meter = excluded.meter,
				credentials = excluded.credentials, updated_at = excluded.updated_at`,
			d.ID, d.Type, d.Status, d.MPxN, d.CHF, d.Meter, d.Credentials, updated)
		return err
	})
}

// GetDevice returns one inventory entry or store.ErrNotFound.
func (s *Store) GetDevice(ctx context.Context, id string) (store.Device, error) {
	if s.inv == nil {
		return s.getDevice(ctx, id)
	}
	return readThrough(s.inv, func() (store.Device, bool) { return s.inv.device(id) },
		func() (store.Device, error) { return s.getDevice(ctx, id) }, s.inv.putDevice)
}

func (s *Store) getDevice(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+devCols+` FROM devices WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Device{}, store.ErrNotFound
	}
	return d, err
}

// Devices lists the entries matching every non-zero field of f, by ID.
func (s *Store) Devices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	k, ok := listKeyOf(f)
	if s.inv == nil || !ok {
		return s.devices(ctx, f)
	}
	return readThrough(s.inv, func() ([]store.Device, bool) { return s.inv.list(k) },
		func() ([]store.Device, error) { return s.devices(ctx, f) },
		func(ds []store.Device, gen uint64) { s.inv.putList(k, ds, gen) })
}

func (s *Store) devices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"chf", f.CHF}, {"meter", f.Meter}, {"mpxn", f.MPxN}, {"type", f.Type}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	query := func(extra string, extraArgs []any) ([]store.Device, error) {
		w := where
		if extra != "" {
			w = append(slices.Clip(w), extra)
		}
		q := `SELECT ` + devCols + ` FROM devices`
		if len(w) > 0 {
			q += " WHERE " + strings.Join(w, " AND ")
		}
		q += " ORDER BY id"
		if f.Limit > 0 {
			q += " LIMIT " + strconv.Itoa(f.Limit)
		}
		rows, err := s.rdb.QueryContext(ctx, s.q(q), append(slices.Clip(args), extraArgs...)...)
		if err != nil {
			return nil, err
		}
		return collect(rows, scanDevice)
	}
	if len(f.IDs) == 0 {
		return query("", nil)
	}
	var out []store.Device
	for i := 0; i < len(f.IDs); i += chunk {
		part := f.IDs[i:min(i+chunk, len(f.IDs))]
		ids := make([]any, len(part))
		for j, id := range part {
			ids[j] = id
		}
		ds, err := query("id IN ("+placeholders(len(part))+")", ids)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	if len(f.IDs) > chunk {
		slices.SortFunc(out, func(a, b store.Device) int { return strings.Compare(a.ID, b.ID) })
		out = slices.CompactFunc(out, func(a, b store.Device) bool { return a.ID == b.ID })
	}
	return out, nil
}

// SetDeviceStatus moves a device from one status to another in one
// conditional statement.
func (s *Store) SetDeviceStatus(ctx context.Context, id, from, to string, at time.Time) error {
	atN, err := encTime(at)
	if err != nil {
		return err
	}
	defer s.writeInventory()()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE devices SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			to, atN, id, from)
		if err != nil || n == 1 {
			return err
		}
		return s.staleOrMissing(ctx, tx, "devices", id)
	})
}
