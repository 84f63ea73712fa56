package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.Reporting = (*Store)(nil)

const recCols = regCols + ", meter_agent, profile_class, source"

func scanRecord(row interface{ Scan(...any) error }) (store.RegistrationRecord, error) {
	var r store.RegistrationRecord
	var from int64
	err := row.Scan(&r.MPxN, &from, &r.Fuel, &r.ImportSupplier, &r.ExportSupplier, &r.NetworkOperator,
		&r.Postcode, &r.Premises, &r.UPRN, &r.MeterAgent, &r.ProfileClass, &r.Source)
	r.EffectiveFrom = decTime(from)
	return r, err
}

// upsertBatch is how many records go into one INSERT statement (12
// parameters each, well below both databases' limits).
const upsertBatch = 64

const fileCols = "id, rdp, kind, fuel, seq_no, name, sha256, received_at, state, row_count, written, deleted, incident"

func scanFile(row interface{ Scan(...any) error }) (store.RegistrationFile, error) {
	var f store.RegistrationFile
	var recv int64
	err := row.Scan(&f.ID, &f.RDP, &f.Kind, &f.Fuel, &f.Sequence, &f.Name, &f.SHA256, &recv, &f.State,
		&f.Rows, &f.Written, &f.Deleted, &f.Incident)
	f.ReceivedAt = decTime(recv)
	return f, err
}

// ApplyRegistrationFile stores the file's record, deletions, records,
// incidents and answered refreshes in one transaction.
func (s *Store) ApplyRegistrationFile(ctx context.Context, a store.RegistrationApply) error {
	// Encode every time before the transaction, so a bad one changes nothing.
	var te timeEncoder
	recv := te.enc(a.File.ReceivedAt)
	type keyN struct {
		mpxn string
		from int64
	}
	deletes := make([]keyN, len(a.Deletes))
	for i, k := range a.Deletes {
		deletes[i] = keyN{k.MPxN, te.enc(k.EffectiveFrom)}
	}
	// The last of two upserts of one key wins (one statement must not
	// touch a row twice).
	seen := make(map[keyN]int, len(a.Upserts))
	var ups [][]any
	for _, r := range a.Upserts {
		from := te.enc(r.EffectiveFrom)
		args := []any{r.MPxN, from, r.Fuel, r.ImportSupplier, r.ExportSupplier, r.NetworkOperator,
			r.Postcode, r.Premises, r.UPRN, r.MeterAgent, r.ProfileClass, r.Source}
		k := keyN{r.MPxN, from}
		if i, ok := seen[k]; ok {
			ups[i] = args
			continue
		}
		seen[k] = len(ups)
		ups = append(ups, args)
	}
	incs := make([][]any, len(a.Incidents))
	for i, in := range a.Incidents {
		incs[i] = incidentArgs(&in, &te)
	}
	if te.err != nil {
		return te.err
	}
	defer s.writeInventory()()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		f := a.File
		if _, err := s.exec(ctx, tx, `INSERT INTO registration_files (`+fileCols+`) VALUES (`+placeholders(13)+`)`,
			f.ID, f.RDP, f.Kind, f.Fuel, f.Sequence, f.Name, f.SHA256, recv, f.State, f.Rows, f.Written, f.Deleted, f.Incident); err != nil {
			return err
		}
		if len(deletes) > 0 {
			del, err := tx.PrepareContext(ctx, s.q(`DELETE FROM registrations WHERE mpxn = ? AND effective_from = ?`))
			if err != nil {
				return err
			}
			defer del.Close()
			for _, k := range deletes {
				if _, err := del.ExecContext(ctx, k.mpxn, k.from); err != nil {
					return err
				}
			}
		}
		if err := s.upsertRecords(ctx, tx, ups); err != nil {
			return err
		}
		for _, args := range incs {
			if _, err := s.exec(ctx, tx, `INSERT INTO registration_incidents (`+incCols+`) VALUES (`+placeholders(11)+`)`, args...); err != nil {
				return err
			}
		}
		for _, id := range a.Answers {
			if _, err := s.exec(ctx, tx, `UPDATE refresh_requests SET received_at = ?, file_id = ? WHERE id = ? AND received_at = ?`,
				recv, f.ID, id, int64(zeroTime)); err != nil {
				return err
			}
		}
		return nil
	})
}

// upsertRecords writes records in multi-row statements.
func (s *Store) upsertRecords(ctx context.Context, tx *sql.Tx, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	stmt := func(n int) string {
		var b strings.Builder
		b.WriteString(`INSERT INTO registrations (` + recCols + `) VALUES `)
		one := "(" + placeholders(12) + ")"
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
		}
		b.WriteString(` ON CONFLICT (mpxn, effective_from) DO UPDATE SET fuel = excluded.fuel,
			import_supplier = excluded.import_supplier, export_supplier = excluded.export_supplier,
			network_operator = excluded.network_operator, postcode = excluded.postcode,
			premises = excluded.premises, uprn = excluded.uprn, meter_agent = excluded.meter_agent,
			profile_class = excluded.profile_class, source = excluded.source`)
		return s.q(b.String())
	}
	var full *sql.Stmt
	if len(rows) >= upsertBatch {
		var err error
		if full, err = tx.PrepareContext(ctx, stmt(upsertBatch)); err != nil {
			return err
		}
		defer full.Close()
	}
	args := make([]any, 0, upsertBatch*12)
	for i := 0; i < len(rows); i += upsertBatch {
		part := rows[i:min(i+upsertBatch, len(rows))]
		args = args[:0]
		for _, r := range part {
			args = append(args, r...)
		}
		var err error
		if len(part) == upsertBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, stmt(len(part)), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// RegistrationFiles lists files, the most recently received first.
func (s *Store) RegistrationFiles(ctx context.Context, rdp string, limit int) ([]store.RegistrationFile, error) {
	q := `SELECT ` + fileCols + ` FROM registration_files`
	var args []any
	if rdp != "" {
		q += ` WHERE rdp = ?`
		args = append(args, rdp)
	}
	q += ` ORDER BY received_at DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanFile)
}

// GetRegistrationFile returns one file's record.
func (s *Store) GetRegistrationFile(ctx context.Context, id string) (store.RegistrationFile, error) {
	f, err := scanFile(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+fileCols+` FROM registration_files WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.RegistrationFile{}, store.ErrNotFound
	}
	return f, err
}

// LastSequence is the highest sequence number applied for an RDP and fuel.
func (s *Store) LastSequence(ctx context.Context, rdp, fuel string) (int64, error) {
	var n sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT MAX(seq_no) FROM registration_files
		WHERE rdp = ? AND fuel = ? AND state = 'applied'`), rdp, fuel).Scan(&n)
	return n.Int64, err
}

// RegistrationHistory returns every record of the MPxNs, by MPxN then
// EffectiveFrom.
func (s *Store) RegistrationHistory(ctx context.Context, mpxns []string) ([]store.RegistrationRecord, error) {
	var out []store.RegistrationRecord
	for i := 0; i < len(mpxns); i += chunk {
		part := mpxns[i:min(i+chunk, len(mpxns))]
		args := make([]any, len(part))
		for j, m := range part {
			args[j] = m
		}
		rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+recCols+` FROM registrations
			WHERE mpxn IN (`+placeholders(len(part))+`) ORDER BY mpxn, effective_from`), args...)
		if err != nil {
			return nil, err
		}
		recs, err := collect(rows, scanRecord)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	if len(mpxns) > chunk {
		sortRecords(out)
	}
	return dedupeRecords(out), nil
}

// inEffectAt is registrations r restricted to each MPxN's record in effect
// at the time bound to its placeholder: one grouped pass over the primary
// key finds each MPxN's latest EffectiveFrom <= at (cheaper than a
// subquery per row).
const inEffectAt = `registrations r
	JOIN (SELECT mpxn, MAX(effective_from) AS latest FROM registrations WHERE effective_from <= ? GROUP BY mpxn) x
	ON r.mpxn = x.mpxn AND r.effective_from = x.latest`

// RegistrationsInEffect returns the record of each MPxN in effect at `at`,
// by MPxN, optionally only those naming one of the network operators.
func (s *Store) RegistrationsInEffect(ctx context.Context, at time.Time, networkOperators []string) ([]store.RegistrationRecord, error) {
	atN, err := encTime(at)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + prefixed("r.", recCols) + ` FROM ` + inEffectAt + ` WHERE 1 = 1`
	args := []any{atN}
	if len(networkOperators) > 0 {
		q += ` AND r.network_operator IN (` + placeholders(len(networkOperators)) + `)`
		for _, n := range networkOperators {
			args = append(args, n)
		}
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY r.mpxn`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRecord)
}

// prefixed qualifies each column of a column list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func sortRecords(rs []store.RegistrationRecord) {
	less := func(a, b store.RegistrationRecord) int {
		if c := strings.Compare(a.MPxN, b.MPxN); c != 0 {
			return c
		}
		return a.EffectiveFrom.Compare(b.EffectiveFrom)
	}
	slices.SortFunc(rs, less)
}

// dedupeRecords drops repeats of a key (an MPxN given twice).
func dedupeRecords(rs []store.RegistrationRecord) []store.RegistrationRecord {
	out := rs[:0]
	for i, r := range rs {
		if i > 0 && r.MPxN == rs[i-1].MPxN && r.EffectiveFrom.Equal(rs[i-1].EffectiveFrom) {
			continue
		}
		out = append(out, r)
	}
	return out
}
