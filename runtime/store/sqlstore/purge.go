package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var _ store.Purger = (*Store)(nil)

// PurgeBefore implements store.Purger, in one transaction: the deliveries
// of the requests it deletes go with them, so none is left naming a
// request that is gone.
func (s *Store) PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var te timeEncoder
	at := te.enc(before)
	if te.err != nil {
		return 0, te.err
	}
	args := []any{at}
	for _, st := range store.FinalStates {
		args = append(args, st)
	}
	args = append(args, limit)
	old := `SELECT id FROM requests WHERE received_at < ? AND state IN (` + placeholders(len(store.FinalStates)) + `) ORDER BY received_at LIMIT ?`
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		if _, err := s.exec(ctx, tx, `DELETE FROM deliveries WHERE request_id IN (`+old+`)`, args...); err != nil {
			return err
		}
		reqs, err := s.exec(ctx, tx, `DELETE FROM requests WHERE id IN (`+old+`)`, args...)
		if err != nil {
			return err
		}
		// Alerts and other deliveries as old (of no request, or of one
		// still to run: the stream's copy goes, the request stays).
		dels, err := s.exec(ctx, tx, `DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries WHERE created_at < ? ORDER BY seq LIMIT ?)`, at, limit)
		n = reqs + dels
		return err
	})
	return int(n), err
}
