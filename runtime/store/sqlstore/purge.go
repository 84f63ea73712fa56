package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.Purger = (*Store)(nil)

// PurgeBefore implements store.Purger. The requests to go are found on a
// read connection (no index serves received_at: the scan must not hold
// the writer), then deleted by ID in one transaction with their
// deliveries, so none is left naming a request that is gone. Old
// deliveries are taken from the lowest sequence numbers: they are appended
// in time order, so the oldest are first.
func (s *Store) PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var te timeEncoder
	at := te.enc(before)
	if te.err != nil {
		return 0, te.err
	}
	unsent := te.enc(time.Time{}) // duis_outbox.sent_at until sent
	args := []any{at}
	for _, st := range store.FinalStates {
		args = append(args, st)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT id FROM requests WHERE received_at < ? AND state IN (`+
		placeholders(len(store.FinalStates))+`) LIMIT ?`), append(args, limit)...)
	if err != nil {
		return 0, err
	}
	// As any: they go to the statements below as arguments.
	ids, err := collect(rows, func(r interface{ Scan(...any) error }) (any, error) {
		return scanOne[string](r)
	})
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.writeThen(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		if len(ids) > 0 {
			if _, err := s.exec(ctx, tx, `DELETE FROM deliveries WHERE request_id IN (`+placeholders(len(ids))+`)`, ids...); err != nil {
				return err
			}
			// Still final and old: the check again, inside the write.
			reqs, err := s.exec(ctx, tx, `DELETE FROM requests WHERE id IN (`+placeholders(len(ids))+`) AND received_at < ? AND state IN (`+
				placeholders(len(store.FinalStates))+`)`, append(ids, args...)...)
			if err != nil {
				return err
			}
			n += reqs
			// What DUIS kept of them: the request's SRV and DUIS ID, and
			// the responses already delivered (one still to send stays).
			if _, err := s.exec(ctx, tx, `DELETE FROM duis_requests WHERE request_id IN (`+placeholders(len(ids))+`)`, ids...); err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, `DELETE FROM duis_outbox WHERE request_id IN (`+placeholders(len(ids))+`) AND sent_at <> ?`, append(ids, unsent)...); err != nil {
				return err
			}
		}
		// Alerts and other deliveries as old (of no request, or of one
		// still to run: the stream's copy goes, the request stays).
		dels, err := s.exec(ctx, tx, `DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries ORDER BY seq LIMIT ?) AND created_at < ?`, limit, at)
		if err != nil {
			return err
		}
		n += dels
		// Quarantined alerts as old, oldest first (by ID, as stored).
		qs, err := s.exec(ctx, tx, `DELETE FROM quarantined_alerts WHERE id IN (SELECT id FROM quarantined_alerts ORDER BY id LIMIT ?) AND quarantined_at < ?`, limit, at)
		n += qs
		return err
	}, s.forgetTail)
	return int(n), err
}
