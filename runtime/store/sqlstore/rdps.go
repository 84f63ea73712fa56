package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// PutRDP inserts or replaces a Registration Data Provider.
func (s *Store) PutRDP(ctx context.Context, r store.RDP) error {
	created, err := encTime(r.CreatedAt)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO rdps (id, name, cert_pem, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, cert_pem = excluded.cert_pem, created_at = excluded.created_at`,
			r.ID, r.Name, r.CertPEM, created)
		return err
	})
}

func scanRDP(row interface{ Scan(...any) error }) (store.RDP, error) {
	var r store.RDP
	var created int64
	err := row.Scan(&r.ID, &r.Name, &r.CertPEM, &created)
	r.CreatedAt = decTime(created)
	return r, err
}

// GetRDP returns one RDP or store.ErrNotFound.
func (s *Store) GetRDP(ctx context.Context, id string) (store.RDP, error) {
	r, err := scanRDP(s.rdb.QueryRowContext(ctx, s.q(`SELECT id, name, cert_pem, created_at FROM rdps WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.RDP{}, store.ErrNotFound
	}
	return r, err
}

// ListRDPs lists the RDPs by ID.
func (s *Store) ListRDPs(ctx context.Context) ([]store.RDP, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, cert_pem, created_at FROM rdps ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRDP)
}

// PutNomination records a nomination.
func (s *Store) PutNomination(ctx context.Context, n store.Nomination) error {
	at, err := encTime(n.At)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO rdp_nominations (network_operator, rdp, nominated_at) VALUES (?, ?, ?)`,
			n.NetworkOperator, n.RDP, at)
		return err
	})
}

// Nominations returns every nomination by network operator then time.
func (s *Store) Nominations(ctx context.Context) ([]store.Nomination, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT network_operator, rdp, nominated_at FROM rdp_nominations
		ORDER BY network_operator, nominated_at`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.Nomination, error) {
		var n store.Nomination
		var at int64
		err := row.Scan(&n.NetworkOperator, &n.RDP, &at)
		n.At = decTime(at)
		return n, err
	})
}

const incCols = "id, kind, rdp, file_id, dedupe_key, raised_at, resolved_at, summary, resolution, row_count, detail"

func incidentArgs(in *store.RegistrationIncident, te *timeEncoder) []any {
	return []any{in.ID, in.Kind, in.RDP, in.File, in.Key, te.enc(in.RaisedAt), te.enc(in.ResolvedAt),
		in.Summary, in.Resolution, in.Rows, encBytes(in.Detail)}
}

func scanIncident(row interface{ Scan(...any) error }) (store.RegistrationIncident, error) {
	var in store.RegistrationIncident
	var raised, resolved int64
	err := row.Scan(&in.ID, &in.Kind, &in.RDP, &in.File, &in.Key, &raised, &resolved, &in.Summary,
		&in.Resolution, &in.Rows, &in.Detail)
	in.RaisedAt, in.ResolvedAt, in.Detail = decTime(raised), decTime(resolved), decBytes(in.Detail)
	return in, err
}

// PutRegistrationIncident stores a new incident.
func (s *Store) PutRegistrationIncident(ctx context.Context, in store.RegistrationIncident) error {
	var te timeEncoder
	args := incidentArgs(&in, &te)
	if te.err != nil {
		return te.err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO registration_incidents (`+incCols+`) VALUES (`+placeholders(11)+`)`, args...)
		return err
	})
}

// RegistrationIncidents lists incidents by RaisedAt then ID.
func (s *Store) RegistrationIncidents(ctx context.Context, f store.IncidentFilter) ([]store.RegistrationIncident, error) {
	var where []string
	var args []any
	if f.RDP != "" {
		where = append(where, "rdp = ?")
		args = append(args, f.RDP)
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if f.OpenOnly {
		where = append(where, "resolved_at = ?")
		args = append(args, int64(zeroTime))
	}
	q := `SELECT ` + incCols + ` FROM registration_incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+" ORDER BY raised_at, id"), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanIncident)
}

// ResolveRegistrationIncident marks an open incident resolved.
func (s *Store) ResolveRegistrationIncident(ctx context.Context, id string, at time.Time, note string) error {
	atN, err := encTime(at)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE registration_incidents SET resolved_at = ?, resolution = ?
			WHERE id = ? AND resolved_at = ?`, atN, note, id, int64(zeroTime))
		if err != nil || n == 1 {
			return err
		}
		return s.staleOrMissing(ctx, tx, "registration_incidents", id)
	})
}

const refreshCols = "id, rdp, network_operator, fuel, requested_at, due_at, received_at, file_id, overdue_at"

func scanRefresh(row interface{ Scan(...any) error }) (store.RefreshRequest, error) {
	var r store.RefreshRequest
	var req, due, recv, over int64
	err := row.Scan(&r.ID, &r.RDP, &r.NetworkOperator, &r.Fuel, &req, &due, &recv, &r.File, &over)
	r.RequestedAt, r.DueAt, r.ReceivedAt, r.OverdueAt = decTime(req), decTime(due), decTime(recv), decTime(over)
	return r, err
}

// PutRefreshRequest stores a new refresh request.
func (s *Store) PutRefreshRequest(ctx context.Context, r store.RefreshRequest) error {
	var te timeEncoder
	args := []any{r.ID, r.RDP, r.NetworkOperator, r.Fuel, te.enc(r.RequestedAt), te.enc(r.DueAt),
		te.enc(r.ReceivedAt), r.File, te.enc(r.OverdueAt)}
	if te.err != nil {
		return te.err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO refresh_requests (`+refreshCols+`) VALUES (`+placeholders(9)+`)`, args...)
		return err
	})
}

// RefreshRequests lists refresh requests by RequestedAt then ID.
func (s *Store) RefreshRequests(ctx context.Context, rdp string, openOnly bool) ([]store.RefreshRequest, error) {
	var where []string
	var args []any
	if rdp != "" {
		where = append(where, "rdp = ?")
		args = append(args, rdp)
	}
	if openOnly {
		where = append(where, "received_at = ?")
		args = append(args, int64(zeroTime))
	}
	q := `SELECT ` + refreshCols + ` FROM refresh_requests`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+" ORDER BY requested_at, id"), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanRefresh)
}

// MarkRefreshOverdue flags an open, unflagged refresh request overdue.
func (s *Store) MarkRefreshOverdue(ctx context.Context, id string, at time.Time) error {
	atN, err := encTime(at)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE refresh_requests SET overdue_at = ?
			WHERE id = ? AND received_at = ? AND overdue_at = ?`, atN, id, int64(zeroTime), int64(zeroTime))
		if err != nil || n == 1 {
			return err
		}
		return s.staleOrMissing(ctx, tx, "refresh_requests", id)
	})
}
