package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.BulkLoader = (*Store)(nil)

// bulkRows is how many rows one multi-row INSERT carries: under SQLite's
// and PostgreSQL's limits on bound parameters (32766, 65535) for the widest
// table (nine columns).
const bulkRows = 500

// BulkLoad inserts registrations and devices in large transactions of
// multi-row INSERTs, replacing rows with the same key. It is for seeding a
// large inventory, outside the request path: each transaction commits
// bulkRows*chunk rows at once instead of one row per write.
func (s *Store) BulkLoad(ctx context.Context, regs []store.Registration, devs []store.Device) error {
	// A key given twice: the last wins, as one row at a time would leave
	// it (PostgreSQL refuses an INSERT ... ON CONFLICT that meets a key
	// twice in one statement).
	regs = lastOf(regs, func(r store.Registration) string { return r.MPxN + "\x00" + r.EffectiveFrom.String() })
	devs = lastOf(devs, func(d store.Device) string { return d.ID })
	// Marked and dropped around each transaction: other processes' caches
	// hear of every chunk as it commits, not at the end.
	const perTx = 50_000
	for i := 0; i < len(regs); i += perTx {
		chunk := regs[i:min(i+perTx, len(regs))]
		done := s.writeInventory()
		err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			return s.insertRows(ctx, tx, `INSERT INTO registrations (`+regCols+`) VALUES `, 9, len(chunk), func(j int, args []any) ([]any, error) {
				r := chunk[j]
				from, err := encTime(r.EffectiveFrom)
				return append(args, r.MPxN, from, r.Fuel, r.ImportSupplier, r.ExportSupplier, r.NetworkOperator, r.Postcode, r.Premises, r.UPRN), err
			}, ` ON CONFLICT (mpxn, effective_from) DO UPDATE SET fuel = excluded.fuel,
				import_supplier = excluded.import_supplier, export_supplier = excluded.export_supplier,
				network_operator = excluded.network_operator, postcode = excluded.postcode,
				premises = excluded.premises, uprn = excluded.uprn`)
		})
		done()
		if err != nil {
			return err
		}
	}
	for i := 0; i < len(devs); i += perTx {
		chunk := devs[i:min(i+perTx, len(devs))]
		done := s.writeInventory()
		err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			return s.insertRows(ctx, tx, `INSERT INTO devices (`+devCols+`) VALUES `, 8, len(chunk), func(j int, args []any) ([]any, error) {
				d := chunk[j]
				updated, err := encTime(d.UpdatedAt)
				return append(args, d.ID, d.Type, d.Status, d.MPxN, d.CHF, d.Meter, d.Credentials, updated), err
			}, ` ON CONFLICT (id) DO UPDATE SET type = excluded.type, status = excluded.status,
				mpxn = excluded.mpxn, chf = excluded.chf, meter = excluded.meter,
				credentials = excluded.credentials, updated_at = excluded.updated_at`)
		})
		done()
		if err != nil {
			return err
		}
	}
	return nil
}

// insertRows runs prefix + "(?, ...), (?, ...)" + suffix over n rows in
// statements of at most bulkRows rows, taking each row's values from row.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, prefix string, cols, n int, row func(i int, args []any) ([]any, error), suffix string) error {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	args := make([]any, 0, bulkRows*cols)
	var stmt *sql.Stmt
	stmtRows := 0
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	for i := 0; i < n; i += bulkRows {
		m := min(bulkRows, n-i)
		args = args[:0]
		for j := i; j < i+m; j++ {
			var err error
			if args, err = row(j, args); err != nil {
				return err
			}
		}
		if stmt == nil || stmtRows != m {
			if stmt != nil {
				stmt.Close()
			}
			q := prefix + strings.TrimSuffix(strings.Repeat(tuple+", ", m), ", ") + suffix
			var err error
			if stmt, err = tx.PrepareContext(ctx, s.q(q)); err != nil {
				return err
			}
			stmtRows = m
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// lastOf returns xs without the entries whose key comes again later, in
// their order.
func lastOf[T any](xs []T, key func(T) string) []T {
	last := make(map[string]int, len(xs))
	for i, x := range xs {
		last[key(x)] = i
	}
	if len(last) == len(xs) {
		return xs
	}
	out := make([]T, 0, len(last))
	for i, x := range xs {
		if last[key(x)] == i {
			out = append(out, x)
		}
	}
	return out
}
