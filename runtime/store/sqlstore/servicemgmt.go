package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.ServiceManagement = (*Store)(nil)

const incidentCols = `id, raised_by, category, priority, status, area, device_id, request_id, title, description,
	responsible_party, responsible_user, responsibility_rule, clause, interested, major, dcc_manager, party_manager,
	notified, raised_at, target_at, allocated_at, resolved_at, closed_at, review_due_at, reviewed_at, review, ticket_id`

// parties writes a list as ",a,b," (see 00003_service_management.sql).
// likeEscaper escapes LIKE's wildcards (and its escape character).
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

func parties(ps []string) string { return "," + strings.Join(ps, ",") + "," }

func unparties(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func logIncidentArgs(in store.Incident) ([]any, error) {
	var te timeEncoder
	args := []any{in.ID, in.RaisedBy, in.Category, in.Priority, in.Status, in.Area, in.DeviceID, in.RequestID, in.Title, in.Description,
		in.ResponsibleParty, in.ResponsibleUser, in.ResponsibilityRule, in.Clause, parties(in.Interested), in.Major, in.DCCManager, in.PartyManager,
		parties(in.Notified), te.enc(in.RaisedAt), te.enc(in.TargetAt), te.enc(in.AllocatedAt), te.enc(in.ResolvedAt), te.enc(in.ClosedAt),
		te.enc(in.ReviewDueAt), te.enc(in.ReviewedAt), in.Review, in.TicketID}
	return args, te.err
}

func scanLogIncident(row interface{ Scan(...any) error }) (store.Incident, error) {
	var in store.Incident
	var interested, notified string
	var t [7]int64
	err := row.Scan(&in.ID, &in.RaisedBy, &in.Category, &in.Priority, &in.Status, &in.Area, &in.DeviceID, &in.RequestID, &in.Title, &in.Description,
		&in.ResponsibleParty, &in.ResponsibleUser, &in.ResponsibilityRule, &in.Clause, &interested, &in.Major, &in.DCCManager, &in.PartyManager,
		&notified, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &in.Review, &in.TicketID)
	in.Interested, in.Notified = unparties(interested), unparties(notified)
	in.RaisedAt, in.TargetAt, in.AllocatedAt, in.ResolvedAt = decTime(t[0]), decTime(t[1]), decTime(t[2]), decTime(t[3])
	in.ClosedAt, in.ReviewDueAt, in.ReviewedAt = decTime(t[4]), decTime(t[5]), decTime(t[6])
	return in, err
}

func (s *Store) appendEvent(ctx context.Context, tx *sql.Tx, ev store.IncidentEvent) error {
	at, err := encTime(ev.At)
	if err != nil {
		return err
	}
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT MAX(seq) FROM incident_events WHERE incident_id = ?`), ev.IncidentID).Scan(&last); err != nil {
		return err
	}
	_, err = s.exec(ctx, tx, `INSERT INTO incident_events (incident_id, seq, at, actor, kind, status, note, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.IncidentID, last.Int64+1, at, ev.Actor, ev.Kind, ev.Status, ev.Note, encBytes(ev.Data))
	return err
}

// InsertIncident implements store.ServiceManagement.
func (s *Store) InsertIncident(ctx context.Context, in store.Incident, ev store.IncidentEvent) error {
	args, err := logIncidentArgs(in)
	if err != nil {
		return err
	}
	ev.IncidentID = in.ID
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO incidents (`+incidentCols+`) VALUES (`+placeholders(len(args))+`)`, args...); err != nil {
			return err
		}
		return s.appendEvent(ctx, tx, ev)
	})
}

// UpdateIncident implements store.ServiceManagement.
func (s *Store) UpdateIncident(ctx context.Context, in store.Incident, fromStatus string, ev store.IncidentEvent) error {
	args, err := logIncidentArgs(in)
	if err != nil {
		return err
	}
	ev.IncidentID = in.ID
	cols := strings.Split(incidentCols, ",")
	sets := make([]string, 0, len(cols)-1)
	for _, c := range cols[1:] {
		sets = append(sets, strings.TrimSpace(c)+" = ?")
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE incidents SET `+strings.Join(sets, ", ")+` WHERE id = ? AND status = ?`,
			append(args[1:], in.ID, fromStatus)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return s.staleOrMissing(ctx, tx, "incidents", in.ID)
		}
		return s.appendEvent(ctx, tx, ev)
	})
}

// GetIncident implements store.ServiceManagement.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	in, err := scanLogIncident(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Incident{}, store.ErrNotFound
	}
	return in, err
}

// ListIncidents implements store.ServiceManagement.
func (s *Store) ListIncidents(ctx context.Context, f store.IncidentLogFilter) ([]store.Incident, error) {
	var where []string
	var args []any
	if f.Party != "" {
		// Those the incident names (incidents.Visible): its raiser, the
		// responsible user, the interested and the notified parties. The
		// ID is escaped: a "_" or "%" in it must match only itself.
		like := "%," + likeEscaper.Replace(f.Party) + ",%"
		where = append(where, `(raised_by = ? OR responsible_user = ? OR interested LIKE ? ESCAPE '\' OR notified LIKE ? ESCAPE '\')`)
		args = append(args, f.Party, f.Party, like, like)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if f.Major {
		where = append(where, "major = ?")
		args = append(args, true)
	}
	var te timeEncoder
	for _, c := range []struct {
		cond string
		t    time.Time
	}{{"raised_at >= ?", f.RaisedFrom}, {"raised_at < ?", f.RaisedBefore}, {"resolved_at >= ?", f.ResolvedFrom}, {"resolved_at < ?", f.ResolvedUntil}} {
		if !c.t.IsZero() {
			where = append(where, c.cond)
			args = append(args, te.enc(c.t))
		}
	}
	if te.err != nil {
		return nil, te.err
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY raised_at, id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanLogIncident)
}

// IncidentEvents implements store.ServiceManagement.
func (s *Store) IncidentEvents(ctx context.Context, id string) ([]store.IncidentEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT incident_id, seq, at, actor, kind, status, note, data FROM incident_events
		WHERE incident_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.IncidentEvent, error) {
		var ev store.IncidentEvent
		var at int64
		var data []byte
		err := row.Scan(&ev.IncidentID, &ev.Seq, &at, &ev.Actor, &ev.Kind, &ev.Status, &ev.Note, &data)
		ev.At, ev.Data = decTime(at), decBytes(data)
		return ev, err
	})
}

// The answer columns are migration 00011 (PostgreSQL 00013); contact and
// lookup_hash 00013 (PostgreSQL 00015).
const ticketCols = `id, raised_by, party, is_user, kind, subject, body, status, incident_id, created_at, updated_at, answer, answered_at,
	contact, lookup_hash`

func scanTicket(row interface{ Scan(...any) error }) (store.Ticket, error) {
	var t store.Ticket
	var c, u, a int64
	err := row.Scan(&t.ID, &t.RaisedBy, &t.Party, &t.IsUser, &t.Kind, &t.Subject, &t.Body, &t.Status, &t.IncidentID, &c, &u, &t.Answer, &a,
		&t.Contact, &t.LookupHash)
	t.CreatedAt, t.UpdatedAt, t.AnsweredAt = decTime(c), decTime(u), decTime(a)
	return t, err
}

// PutTicket implements store.ServiceManagement.
func (s *Store) PutTicket(ctx context.Context, t store.Ticket) error {
	var te timeEncoder
	c, u, a := te.enc(t.CreatedAt), te.enc(t.UpdatedAt), te.enc(t.AnsweredAt)
	if te.err != nil {
		return te.err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO tickets (`+ticketCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET raised_by = excluded.raised_by, party = excluded.party, is_user = excluded.is_user,
				kind = excluded.kind, subject = excluded.subject, body = excluded.body, status = excluded.status,
				incident_id = excluded.incident_id, created_at = excluded.created_at, updated_at = excluded.updated_at,
				answer = excluded.answer, answered_at = excluded.answered_at, contact = excluded.contact, lookup_hash = excluded.lookup_hash`,
			t.ID, t.RaisedBy, t.Party, t.IsUser, t.Kind, t.Subject, t.Body, t.Status, t.IncidentID, c, u, t.Answer, a, t.Contact, t.LookupHash)
		return err
	})
}

// GetTicket implements store.ServiceManagement.
func (s *Store) GetTicket(ctx context.Context, id string) (store.Ticket, error) {
	t, err := scanTicket(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+ticketCols+` FROM tickets WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Ticket{}, store.ErrNotFound
	}
	return t, err
}

// ListTickets implements store.ServiceManagement.
func (s *Store) ListTickets(ctx context.Context, raisedBy string) ([]store.Ticket, error) {
	q, args := `SELECT `+ticketCols+` FROM tickets`, []any{}
	if raisedBy != "" {
		q += ` WHERE raised_by = ?`
		args = append(args, raisedBy)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanTicket)
}

// PutMaintenance implements store.ServiceManagement.
func (s *Store) PutMaintenance(ctx context.Context, w store.MaintenanceWindow) error {
	var te timeEncoder
	st, en, pub, appr := te.enc(w.StartsAt), te.enc(w.EndsAt), te.enc(w.PublishedAt), te.enc(w.PanelApprovedAt)
	if te.err != nil {
		return te.err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO maintenance_windows (id, starts_at, ends_at, description, published_at, panel_approval, panel_approved_at, cancelled)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET starts_at = excluded.starts_at, ends_at = excluded.ends_at, description = excluded.description,
				published_at = excluded.published_at, panel_approval = excluded.panel_approval,
				panel_approved_at = excluded.panel_approved_at, cancelled = excluded.cancelled`,
			w.ID, st, en, w.Description, pub, w.PanelApproval, appr, w.Cancelled)
		return err
	})
}

// MaintenanceWindows implements store.ServiceManagement.
func (s *Store) MaintenanceWindows(ctx context.Context, from, to time.Time) ([]store.MaintenanceWindow, error) {
	var te timeEncoder
	q, args := `SELECT id, starts_at, ends_at, description, published_at, panel_approval, panel_approved_at, cancelled
		FROM maintenance_windows WHERE ends_at > ?`, []any{te.enc(from)}
	if !to.IsZero() {
		q += ` AND starts_at < ?`
		args = append(args, te.enc(to))
	}
	if te.err != nil {
		return nil, te.err
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY starts_at, id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.MaintenanceWindow, error) {
		var w store.MaintenanceWindow
		var st, en, pub, appr int64
		err := row.Scan(&w.ID, &st, &en, &w.Description, &pub, &w.PanelApproval, &appr, &w.Cancelled)
		w.StartsAt, w.EndsAt, w.PublishedAt, w.PanelApprovedAt = decTime(st), decTime(en), decTime(pub), decTime(appr)
		return w, err
	})
}

// PutRelease implements store.ServiceManagement.
func (s *Store) PutRelease(ctx context.Context, r store.Release) error {
	var te timeEncoder
	a, i := te.enc(r.AnnouncedAt), te.enc(r.ImplementAt)
	if te.err != nil {
		return te.err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO releases (id, kind, name, announced_at, implement_at, notes) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, announced_at = excluded.announced_at,
				implement_at = excluded.implement_at, notes = excluded.notes`,
			r.ID, r.Kind, r.Name, a, i, r.Notes)
		return err
	})
}

// Releases implements store.ServiceManagement.
func (s *Store) Releases(ctx context.Context) ([]store.Release, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, kind, name, announced_at, implement_at, notes FROM releases ORDER BY implement_at, id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.Release, error) {
		var r store.Release
		var a, i int64
		err := row.Scan(&r.ID, &r.Kind, &r.Name, &a, &i, &r.Notes)
		r.AnnouncedAt, r.ImplementAt = decTime(a), decTime(i)
		return r, err
	})
}

// PutFeedback implements store.ServiceManagement.
func (s *Store) PutFeedback(ctx context.Context, f store.Feedback) error {
	at, err := encTime(f.At)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO ssi_feedback (id, user_id, page, body, at) VALUES (?, ?, ?, ?, ?)`, f.ID, f.UserID, f.Page, f.Body, at)
		return err
	})
}

// Feedback implements store.ServiceManagement.
func (s *Store) Feedback(ctx context.Context, userID string) ([]store.Feedback, error) {
	q, args := `SELECT id, user_id, page, body, at FROM ssi_feedback`, []any{}
	if userID != "" {
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(q+` ORDER BY at, id`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(row interface{ Scan(...any) error }) (store.Feedback, error) {
		var f store.Feedback
		var at int64
		err := row.Scan(&f.ID, &f.UserID, &f.Page, &f.Body, &at)
		f.At = decTime(at)
		return f, err
	})
}

// PutDiagnosis implements store.ServiceManagement (migration 00012,
// PostgreSQL 00014).
func (s *Store) PutDiagnosis(ctx context.Context, d store.Diagnosis) error {
	at, err := encTime(d.At)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO diagnoses (id, tool, caller, device_id, result, data, at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (caller, device_id) DO UPDATE SET id = excluded.id, tool = excluded.tool, result = excluded.result,
				data = excluded.data, at = excluded.at`,
			d.ID, d.Tool, d.Caller, d.DeviceID, d.Result, string(d.Data), at)
		return err
	})
}

// GetDiagnosis implements store.ServiceManagement.
func (s *Store) GetDiagnosis(ctx context.Context, id string) (store.Diagnosis, error) {
	var d store.Diagnosis
	var data string
	var at int64
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT id, tool, caller, device_id, result, data, at FROM diagnoses WHERE id = ?`), id).
		Scan(&d.ID, &d.Tool, &d.Caller, &d.DeviceID, &d.Result, &data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Diagnosis{}, store.ErrNotFound
	}
	if data != "" {
		d.Data = json.RawMessage(data)
	}
	d.At = decTime(at)
	return d, err
}

// DeleteDiagnosis implements store.ServiceManagement.
func (s *Store) DeleteDiagnosis(ctx context.Context, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `DELETE FROM diagnoses WHERE id = ?`, id)
		return err
	})
}
