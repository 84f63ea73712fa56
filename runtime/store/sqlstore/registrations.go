package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

const regCols = "mpxn, effective_from, fuel, import_supplier, export_supplier, network_operator, postcode, premises, uprn"

func scanRegistration(row interface{ Scan(...any) error }) (store.Registration, error) {
	var r store.Registration
	var from int64
	err := row.Scan(&r.MPxN, &from, &r.Fuel, &r.ImportSupplier, &r.ExportSupplier, &r.NetworkOperator,
		&r.Postcode, &r.Premises, &r.UPRN)
	r.EffectiveFrom = decTime(from)
	return r, err
}

// PutRegistration inserts or replaces the record of (MPxN, EffectiveFrom).
func (s *Store) PutRegistration(ctx context.Context, r store.Registration) error {
	from, err := encTime(r.EffectiveFrom)
	if err != nil {
		return err
	}
	defer s.writeInventory()()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO registrations (`+regCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (mpxn, effective_from) DO UPDATE SET fuel = excluded.fuel,
				import_supplier = excluded.import_supplier, export_supplier = excluded.export_supplier,
				network_operator = excluded.network_operator, postcode = excluded.postcode,
				premises = excluded.premises, uprn = excluded.uprn`,
			r.MPxN, from, r.Fuel, r.ImportSupplier, r.ExportSupplier, r.NetworkOperator, r.Postcode, r.Premises, r.UPRN)
		return err
	})
}

// inEffect restricts registrations r to the record of each MPxN in effect
// at the time bound to its placeholder.
const inEffect = `r.effective_from = (SELECT MAX(r2.effective_from) FROM registrations r2
	WHERE r2.mpxn = r.mpxn AND r2.effective_from <= ?)`

// Registrations returns the record in effect at `at` for each MPxN, in the
// order given; MPxNs without one are left out.
func (s *Store) Registrations(ctx context.Context, mpxns []string, at time.Time) ([]store.Registration, error) {
	if len(mpxns) == 0 {
		return nil, nil
	}
	if s.inv != nil {
		if _, err := encTime(at); err != nil {
			return nil, err // as the query would
		}
		gen, keep := s.inv.check()
		hist, missing := s.inv.histories(mpxns)
		if len(missing) > 0 {
			read, err := s.registrationHistories(ctx, missing)
			if err != nil {
				return nil, err
			}
			if keep {
				s.inv.putHistories(missing, read, gen)
			}
			for _, m := range missing {
				hist[m] = read[m]
			}
		}
		return pickInEffect(mpxns, hist, at), nil
	}
	atN, err := encTime(at)
	if err != nil {
		return nil, err
	}
	found := make(map[string]store.Registration, len(mpxns))
	for i := 0; i < len(mpxns); i += chunk {
		part := mpxns[i:min(i+chunk, len(mpxns))]
		args := make([]any, 0, len(part)+1)
		for _, m := range part {
			args = append(args, m)
		}
		args = append(args, atN)
		rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+regCols+` FROM registrations r
			WHERE r.mpxn IN (`+placeholders(len(part))+`) AND `+inEffect), args...)
		if err != nil {
			return nil, err
		}
		regs, err := collect(rows, scanRegistration)
		if err != nil {
			return nil, err
		}
		for _, r := range regs {
			found[r.MPxN] = r
		}
	}
	out := make([]store.Registration, 0, len(found))
	for _, m := range mpxns {
		if r, ok := found[m]; ok {
			out = append(out, r)
			delete(found, m) // an MPxN given twice is returned once
		}
	}
	return out, nil
}

// RegistrationsAt returns the records in effect at `at` matching postcode
// (its spaces and case aside) and premises, or uprn, by MPxN. Empty
// arguments match nothing.
func (s *Store) RegistrationsAt(ctx context.Context, postcode, premises, uprn string, at time.Time) ([]store.Registration, error) {
	atN, err := encTime(at)
	if err != nil {
		return nil, err
	}
	var match []string
	args := []any{atN}
	if postcode != "" && premises != "" {
		// A postcode is the same written with or without its space, in
		// either case (LS11AA is LS1 1AA).
		match = append(match, "(UPPER(REPLACE(r.postcode, ' ', '')) = ? AND r.premises = ?)")
		args = append(args, strings.ToUpper(strings.ReplaceAll(postcode, " ", "")), premises)
	}
	if uprn != "" {
		match = append(match, "r.uprn = ?")
		args = append(args, uprn)
	}
	if len(match) == 0 {
		return nil, nil
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+regCols+` FROM registrations r
		WHERE `+inEffect+` AND (`+strings.Join(match, " OR ")+`) ORDER BY r.mpxn`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRegistration)
}
