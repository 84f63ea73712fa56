package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// DUISOutbox is the durable state of the DUIS outbox (migration 00004),
// as Store keeps it: duisapi sends from it, storetest checks it.
type DUISOutbox interface {
	PutDUISReceiver(ctx context.Context, userID, address string) error
	DUISReceivers(ctx context.Context) (map[string]string, error)
	DUISLastSource(ctx context.Context, userID string) (int64, error)
	EnqueueDUIS(ctx context.Context, ms []DUISMessage) error
	DUISDue(ctx context.Context, now time.Time, limit int) ([]DUISMessage, error)
	ClaimDUIS(ctx context.Context, id int64, from, until time.Time) (bool, error)
	DUISMessages(ctx context.Context, userID string) ([]DUISMessage, error)
	MarkDUISSent(ctx context.Context, id int64, at time.Time) error
	MarkDUISFailed(ctx context.Context, id int64, next time.Time, msg string) error
	PutDUISRequest(ctx context.Context, requestID string, r DUISRequestInfo) error
	DUISRequest(ctx context.Context, requestID string) (r DUISRequestInfo, ok bool, err error)
}

// DUISRequestInfo is what the outbox keeps of a request sent in DUIS for
// the responses that follow: its DUIS RequestID, its SRV and the
// schemaVersion it was sent in, which they carry back. A request recorded
// before migration 00010 (PostgreSQL 00011) has no SchemaVersion.
type DUISRequestInfo struct {
	RequestID     string
	SRV           string
	SchemaVersion string
}

var _ DUISOutbox = (*Store)(nil)

// DUISMessage is a signed sr:Response of the DUIS outbox (migration 00004).
type DUISMessage struct {
	ID        int64
	UserID    string
	Source    int64 // the cursor of the delivery it carries
	RequestID string
	Address   string
	Body      []byte
	Attempts  int
	NextAt    time.Time
	SentAt    time.Time // zero until the receiver answered 2xx
	LastError string
}

// PutDUISReceiver sets (address "" removes) a user's Receive Response
// address.
func (s *Store) PutDUISReceiver(ctx context.Context, userID, address string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if address == "" {
			_, err := s.exec(ctx, tx, `DELETE FROM duis_receivers WHERE user_id = ?`, userID)
			return err
		}
		_, err := s.exec(ctx, tx, `INSERT INTO duis_receivers (user_id, address) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET address = excluded.address`, userID, address)
		return err
	})
}

// DUISReceivers returns every user's Receive Response address.
func (s *Store) DUISReceivers(ctx context.Context) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT user_id, address FROM duis_receivers`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var u, a string
		if err := rows.Scan(&u, &a); err != nil {
			return nil, err
		}
		out[u] = a
	}
	return out, rows.Err()
}

// DUISLastSource returns the cursor of the last delivery of the user's
// stream already in the outbox (0 if none).
func (s *Store) DUISLastSource(ctx context.Context, userID string) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT MAX(source) FROM duis_outbox WHERE user_id = ?`), userID).Scan(&n)
	return n.Int64, err
}

// EnqueueDUIS adds messages in one transaction; a message whose (user,
// source) is already there is skipped.
func (s *Store) EnqueueDUIS(ctx context.Context, ms []DUISMessage) error {
	if len(ms) == 0 {
		return nil
	}
	args := make([][]any, len(ms))
	for i, m := range ms {
		var te timeEncoder
		args[i] = []any{m.UserID, m.Source, m.RequestID, m.Address, m.Body, te.enc(m.NextAt), te.enc(time.Time{})}
		if te.err != nil {
			return te.err
		}
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, a := range args {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO duis_outbox
				(user_id, source, request_id, address, body, next_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (user_id, source) DO NOTHING`), a...); err != nil {
				return err
			}
		}
		return nil
	})
}

const duisCols = "id, user_id, source, request_id, address, body, attempts, next_at, sent_at, last_error"

func scanDUIS(rows *sql.Rows) ([]DUISMessage, error) {
	defer rows.Close()
	var out []DUISMessage
	for rows.Next() {
		var m DUISMessage
		var next, sent int64
		if err := rows.Scan(&m.ID, &m.UserID, &m.Source, &m.RequestID, &m.Address, &m.Body, &m.Attempts, &next, &sent, &m.LastError); err != nil {
			return nil, err
		}
		m.NextAt, m.SentAt = decTime(next), decTime(sent)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DUISDue returns up to limit unsent messages due at now, oldest first.
func (s *Store) DUISDue(ctx context.Context, now time.Time, limit int) ([]DUISMessage, error) {
	n, err := encTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+duisCols+` FROM duis_outbox
		WHERE sent_at = ? AND next_at <= ? ORDER BY id LIMIT ?`), zeroTime, n, limit)
	if err != nil {
		return nil, err
	}
	return scanDUIS(rows)
}

// DUISMessages returns a user's messages, sent or not, oldest first.
func (s *Store) DUISMessages(ctx context.Context, userID string) ([]DUISMessage, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+duisCols+` FROM duis_outbox WHERE user_id = ? ORDER BY id`), userID)
	if err != nil {
		return nil, err
	}
	return scanDUIS(rows)
}

// ClaimDUIS takes a due message for one sender: its next attempt moves
// from `from` (the NextAt read) to `until`, in one conditional UPDATE, so
// of the processes that read it due exactly one sends it now; the others
// see false. A sender that dies leaves it to be tried again at until.
func (s *Store) ClaimDUIS(ctx context.Context, id int64, from, until time.Time) (bool, error) {
	f, err := encTime(from)
	if err != nil {
		return false, err
	}
	u, err := encTime(until)
	if err != nil {
		return false, err
	}
	var claimed bool
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE duis_outbox SET next_at = ? WHERE id = ? AND sent_at = ? AND next_at = ?`, u, id, zeroTime, f)
		claimed = n == 1
		return err
	})
	return claimed, err
}

// ErrDUISSent is returned when a message was already marked sent.
var ErrDUISSent = errors.New("sqlstore: the DUIS message was already acknowledged")

// MarkDUISSent records the receiver's acknowledgement; a message is
// acknowledged once.
func (s *Store) MarkDUISSent(ctx context.Context, id int64, at time.Time) error {
	t, err := encTime(at)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.exec(ctx, tx, `UPDATE duis_outbox SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ? AND sent_at = ?`, t, id, zeroTime)
		if err == nil && n == 0 {
			return ErrDUISSent
		}
		return err
	})
}

// MarkDUISFailed records a failed attempt and when to try again.
func (s *Store) MarkDUISFailed(ctx context.Context, id int64, next time.Time, msg string) error {
	t, err := encTime(next)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `UPDATE duis_outbox SET next_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ? AND sent_at = ?`, t, msg, id, zeroTime)
		return err
	})
}

// PutDUISRequest records what a request sent in DUIS was, keyed by its
// ID on the gateway. The first record of an ID stays.
func (s *Store) PutDUISRequest(ctx context.Context, requestID string, r DUISRequestInfo) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `INSERT INTO duis_requests (request_id, duis_request_id, srv, schema_version) VALUES (?, ?, ?, ?)
			ON CONFLICT (request_id) DO NOTHING`, requestID, r.RequestID, r.SRV, r.SchemaVersion)
		return err
	})
}

// DUISRequest returns what a request sent in DUIS was; ok is false for
// one that was not.
func (s *Store) DUISRequest(ctx context.Context, requestID string) (r DUISRequestInfo, ok bool, err error) {
	err = s.rdb.QueryRowContext(ctx, s.q(`SELECT duis_request_id, srv, schema_version FROM duis_requests WHERE request_id = ?`), requestID).Scan(&r.RequestID, &r.SRV, &r.SchemaVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return DUISRequestInfo{}, false, nil
	}
	return r, err == nil, err
}
