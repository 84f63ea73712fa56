package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.Hubs = (*Store)(nil)

// PutHubForecast implements store.Hubs.
func (s *Store) PutHubForecast(ctx context.Context, f store.HubForecast) error {
	filed, err := encTime(f.FiledAt)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO hub_forecasts (supplier, month, variant, quantity, filed_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (supplier, month, variant) DO UPDATE SET quantity = excluded.quantity, filed_at = excluded.filed_at`,
			f.Supplier, f.Month, f.Variant, f.Quantity, filed)
		return err
	})
}

// HubForecasts implements store.Hubs.
func (s *Store) HubForecasts(ctx context.Context, supplier string) ([]store.HubForecast, error) {
	q, args := `SELECT supplier, month, variant, quantity, filed_at FROM hub_forecasts`, []any{}
	if supplier != "" {
		q += ` WHERE supplier = ?`
		args = append(args, supplier)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY supplier, month, variant`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.HubForecast, error) {
		var f store.HubForecast
		var filed int64
		err := row.Scan(&f.Supplier, &f.Month, &f.Variant, &f.Quantity, &filed)
		f.FiledAt = decTime(filed)
		return f, err
	})
}

const hubOrderCols = `id, supplier, region, tranche, free_replacement, lines, ordered_at, delivered_at`

func scanHubOrder(row interface{ Scan(...any) error }) (store.HubOrder, error) {
	var o store.HubOrder
	var lines string
	var ordered, delivered int64
	if err := row.Scan(&o.ID, &o.Supplier, &o.Region, &o.Tranche, &o.FreeReplacement, &lines, &ordered, &delivered); err != nil {
		return o, err
	}
	o.OrderedAt, o.DeliveredAt = decTime(ordered), decTime(delivered)
	return o, json.Unmarshal([]byte(lines), &o.Lines)
}

// InsertHubOrder implements store.Hubs.
func (s *Store) InsertHubOrder(ctx context.Context, o store.HubOrder) error {
	ordered, err := encTime(o.OrderedAt)
	if err != nil {
		return err
	}
	lines, err := json.Marshal(o.Lines)
	if err != nil {
		return err
	}
	if o.Lines == nil {
		lines = []byte("[]")
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO hub_orders (`+hubOrderCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.Supplier, o.Region, o.Tranche, o.FreeReplacement, string(lines), ordered, int64(zeroTime))
		return err
	})
}

// GetHubOrder implements store.Hubs.
func (s *Store) GetHubOrder(ctx context.Context, id string) (store.HubOrder, error) {
	o, err := scanHubOrder(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+hubOrderCols+` FROM hub_orders WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.HubOrder{}, store.ErrNotFound
	}
	return o, err
}

// HubOrders implements store.Hubs.
func (s *Store) HubOrders(ctx context.Context, supplier string) ([]store.HubOrder, error) {
	q, args := `SELECT `+hubOrderCols+` FROM hub_orders`, []any{}
	if supplier != "" {
		q += ` WHERE supplier = ?`
		args = append(args, supplier)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY ordered_at, id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanHubOrder)
}

// DeliverHubOrder implements store.Hubs: the order is marked delivered by
// a conditional update, so of two deliveries of one order one wins.
func (s *Store) DeliverHubOrder(ctx context.Context, order string, at time.Time, hubs []store.Hub, chfStatus string) error {
	when, err := encTime(at)
	if err != nil {
		return err
	}
	defer s.writeInventory()() // the hubs are inventory entries too
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The update changes nothing: it takes the order's row (until the
		// commit, on PostgreSQL) while its hubs are counted, so two
		// deliveries of one order do not both fit.
		n, err := s.exec(ctx, tx, `UPDATE hub_orders SET delivered_at = delivered_at WHERE id = ? AND delivered_at = ?`, order, int64(zeroTime))
		if err != nil {
			return err
		}
		if n == 0 {
			return s.staleOrMissing(ctx, tx, "hub_orders", order)
		}
		var supplier, lines string
		var before int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT supplier, lines, (SELECT COUNT(*) FROM hubs WHERE order_id = ?) FROM hub_orders WHERE id = ?`),
			order, order).Scan(&supplier, &lines, &before); err != nil {
			return err
		}
		var ls []store.HubOrderLine
		if err := json.Unmarshal([]byte(lines), &ls); err != nil {
			return fmt.Errorf("order %s: its lines: %w", order, err)
		}
		ordered := 0
		for _, l := range ls {
			ordered += l.Quantity
		}
		if before+len(hubs) > ordered && ordered > 0 {
			return fmt.Errorf("%w: order %s ordered %d hubs, %d delivered before, %d now", store.ErrStale, order, ordered, before, len(hubs))
		}
		if before+len(hubs) >= ordered {
			if _, err := s.exec(ctx, tx, `UPDATE hub_orders SET delivered_at = ? WHERE id = ?`, when, order); err != nil {
				return err
			}
		}
		for _, h := range hubs {
			if _, err := s.exec(ctx, tx, `INSERT INTO hubs (id, order_id, supplier, variant, delivered_at, installed_at, commissioned_at, removed_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, order, supplier, h.Variant, when, int64(zeroTime), int64(zeroTime), int64(zeroTime)); err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, `INSERT INTO devices (`+devCols+`) VALUES (?, ?, ?, '', '', '', '', ?)`, h.ID, "CHF", chfStatus, when); err != nil {
				return err
			}
		}
		return nil
	})
}

const hubCols = `id, order_id, supplier, variant, delivered_at, installed_at, commissioned_at, installer, premises,
	removed_at, removed_by, removal_reason, replacement_variant, csp_requested, refresh_programme`

func scanHub(row interface{ Scan(...any) error }) (store.Hub, error) {
	var h store.Hub
	var t [4]int64
	err := row.Scan(&h.ID, &h.Order, &h.Supplier, &h.Variant, &t[0], &t[1], &t[2], &h.Installer, &h.Premises,
		&t[3], &h.RemovedBy, &h.RemovalReason, &h.ReplacementVariant, &h.CSPRequested, &h.RefreshProgramme)
	h.DeliveredAt, h.InstalledAt, h.CommissionedAt, h.RemovedAt = decTime(t[0]), decTime(t[1]), decTime(t[2]), decTime(t[3])
	return h, err
}

// GetHub implements store.Hubs.
func (s *Store) GetHub(ctx context.Context, id string) (store.Hub, error) {
	h, err := scanHub(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+hubCols+` FROM hubs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Hub{}, store.ErrNotFound
	}
	return h, err
}

// ListHubs implements store.Hubs.
func (s *Store) ListHubs(ctx context.Context, f store.HubFilter) ([]store.Hub, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"supplier", f.Supplier}, {"order_id", f.Order}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + hubCols + ` FROM hubs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanHub)
}

// RecordHubInstalled implements store.Hubs: one conditional statement; a
// time already set wins over the one given.
func (s *Store) RecordHubInstalled(ctx context.Context, id string, installedAt, commissionedAt time.Time, installer, premises string) error {
	var te timeEncoder
	inst, comm := te.enc(installedAt), te.enc(commissionedAt)
	if te.err != nil {
		return te.err
	}
	z := int64(zeroTime)
	// An unchanged column is set to itself, so a call with both times zero
	// still tells a removed hub (ErrStale) from a missing one.
	sets, args := []string{"removed_at = removed_at"}, []any{}
	if inst != z {
		sets = append(sets, `installer = CASE WHEN installed_at = ? THEN ? ELSE installer END`,
			`premises = CASE WHEN installed_at = ? THEN ? ELSE premises END`,
			`installed_at = CASE WHEN installed_at = ? THEN ? ELSE installed_at END`)
		args = append(args, z, installer, z, premises, z, inst)
	}
	if comm != z {
		sets = append(sets, `commissioned_at = CASE WHEN commissioned_at = ? THEN ? ELSE commissioned_at END`)
		args = append(args, z, comm)
	}
	args = append(args, id, z)
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE hubs SET `+strings.Join(sets, ", ")+` WHERE id = ? AND removed_at = ?`, args...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.staleOrMissing(ctx, tx, "hubs", id)
		}
		return nil
	})
}

// RemoveHub implements store.Hubs.
func (s *Store) RemoveHub(ctx context.Context, id string, r store.Hub, chfStatus string) error {
	at, err := encTime(r.RemovedAt)
	if err != nil {
		return err
	}
	if at == zeroTime {
		return errors.New("store: a removal needs its time")
	}
	defer s.writeInventory()()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE hubs SET removed_at = ?, removed_by = ?, removal_reason = ?, replacement_variant = ?,
				csp_requested = ?, refresh_programme = ?
			WHERE id = ? AND removed_at = ?`,
			at, r.RemovedBy, r.RemovalReason, r.ReplacementVariant, r.CSPRequested, r.RefreshProgramme, id, int64(zeroTime))
		if err != nil {
			return err
		}
		if n == 0 {
			return s.staleOrMissing(ctx, tx, "hubs", id)
		}
		_, err = s.exec(ctx, tx, `UPDATE devices SET status = ?, updated_at = ? WHERE id = ?`, chfStatus, at, id)
		return err
	})
}

// PutHubDefault implements store.Hubs.
func (s *Store) PutHubDefault(ctx context.Context, d store.HubDefault) error {
	at, err := encTime(d.RecordedAt)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO hub_defaults (party, month, invoice, recorded_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (party, month, invoice) DO UPDATE SET recorded_at = excluded.recorded_at`, d.Party, d.Month, d.Invoice, at)
		return err
	})
}

// HubDefaults implements store.Hubs.
func (s *Store) HubDefaults(ctx context.Context) ([]store.HubDefault, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT party, month, invoice, recorded_at FROM hub_defaults ORDER BY month, party, invoice`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.HubDefault, error) {
		var d store.HubDefault
		var at int64
		err := row.Scan(&d.Party, &d.Month, &d.Invoice, &at)
		d.RecordedAt = decTime(at)
		return d, err
	})
}
