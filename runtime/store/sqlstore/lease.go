package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

var (
	_ store.Leaser          = (*Store)(nil)
	_ store.DeliveryWatcher = (*Store)(nil)
)

// Leases are kept as wall-clock nanoseconds since the Unix epoch in
// requests.lease_until (migration 00005); 0 is "never leased" and
// leaseGivenUp a lease that has expired already.
const leaseGivenUp = 1

func encLease(t time.Time) int64 {
	if t.IsZero() {
		return leaseGivenUp
	}
	return max(t.UnixNano(), leaseGivenUp)
}

// inProgress are the states whose requests are leased.
const inProgress = `state IN ('acknowledged', 'executing')`

// ClaimRequest implements store.Leaser: one UPDATE ... WHERE state =
// 'acknowledged' ... RETURNING, so of several claimants one wins. The
// user's role comes back with the row (a sub-select in RETURNING).
func (s *Store) ClaimRequest(ctx context.Context, id, owner string, until time.Time) (store.Request, string, error) {
	var r store.Request
	var role string
	err := s.write1(ctx, func(ctx context.Context, tx querier) error {
		var err error
		r, err = scanRequest(scanAlso{tx.QueryRowContext(ctx, s.q(`UPDATE requests SET state = 'executing', owner = ?, lease_until = ?,
			attempts = attempts + 1 WHERE id = ? AND state = 'acknowledged' RETURNING `+reqCols+`,
			coalesce((SELECT role FROM users WHERE users.id = requests.user_id), '')`), owner, encLease(until), id), &role})
		if errors.Is(err, sql.ErrNoRows) {
			return s.staleOrMissing(ctx, tx, "requests", id)
		}
		return err
	})
	if err != nil {
		return store.Request{}, "", err
	}
	return r, role, nil
}

// scanAlso scans a row of reqCols followed by more columns, into also.
type scanAlso struct {
	row  interface{ Scan(...any) error }
	also any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.also)...) }

// RenewLeases implements store.Leaser.
func (s *Store) RenewLeases(ctx context.Context, owner string, until time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		// Rows another transaction holds (a completion under way) are
		// skipped, not waited for: a renewal held up behind them would
		// let the other leases expire.
		n, err = s.exec(ctx, tx, `UPDATE requests SET lease_until = ? WHERE id IN (SELECT id FROM requests
			WHERE owner = ? AND state = 'executing'`+s.d.SkipLocked+`) AND owner = ? AND state = 'executing'`, encLease(until), owner, owner)
		return err
	})
	return int(n), err
}

// ReclaimRequests implements store.Leaser. On PostgreSQL the rows are
// picked with FOR UPDATE SKIP LOCKED, so processes reclaiming at once
// neither wait for nor deadlock with each other.
func (s *Store) ReclaimRequests(ctx context.Context, owner string, expired, until time.Time) ([]string, error) {
	exp, lease := encLease(expired), encLease(until)
	var ids []string
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// Requests waiting for a worker that nobody leased yet: give their
		// process a lease's time to take them.
		if _, err := s.exec(ctx, tx, `UPDATE requests SET lease_until = ? WHERE id IN (SELECT id FROM requests
			WHERE `+inProgress+` AND lease_until = 0`+s.d.SkipLocked+`) AND lease_until = 0`, lease); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE requests SET state = 'acknowledged', owner = ?, lease_until = ?
			WHERE id IN (SELECT id FROM requests WHERE `+inProgress+` AND lease_until > 0 AND lease_until < ?`+s.d.SkipLocked+`)
			AND `+inProgress+` AND lease_until > 0 AND lease_until < ? RETURNING id`), owner, lease, exp, exp)
		if err != nil {
			return err
		}
		// Set afresh on each run (a batch may run its writes twice).
		ids, err = collect(rows, scanOne[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// WatchDeliveries implements store.DeliveryWatcher with the backend's
// watch (Config.Watch); errors.ErrUnsupported without one.
func (s *Store) WatchDeliveries(ctx context.Context, wake func(users []string)) error {
	if s.watch == nil {
		return errors.ErrUnsupported
	}
	return s.watch(ctx, func(msg string) {
		origin, note := fromOrigin(msg)
		if origin != s.origin {
			wake(noteUsers(note))
		}
	})
}
