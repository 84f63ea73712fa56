package sqlstore

import (
	"database/sql"
	"slices"
	"sync"

	"github.com/dccgate/dccgate/runtime/store"
)

// deliveryTail keeps in memory, for each user whose stream reads here, the
// newest deliveries this store appended (Config.TailDeliveries): a stream
// woken by an append reads them without a query (a query per wake was a
// tenth of a loaded gateway's CPU, with the messages' conversion).
//
// Its rule: every delivery with a cursor up to horizon is committed, and
// every one above it is published here by the writer, after its commit
// and in cursor order (the committer's afterCommit and op.after), unless
// the tail is reset first. A user's tail, made at its first read with
// floor = horizon, so holds every delivery of that user above its floor;
// a read from after >= floor is answered from it, an older one by the
// database. A deletion of deliveries (purge, Reset) resets it, and so
// does a commit by another process on the file: seen by the writer after
// each commit (PRAGMA data_version) or by each read (the signal, which
// every such store bumps after each commit, moved by another); see
// afterCommit for why one or the other always sees it. Another process's
// delivery is so never skipped; between its commit and its bump a read
// may not see it yet.
type deliveryTail struct {
	rdb    *sql.DB // the readers (the writer is afterCommit's)
	signal DeliverySignal

	mu      sync.Mutex
	horizon int64
	users   map[string]*userTail // nil: off until a reset succeeds
	// version is the writer connection's data_version at the last check.
	version int64
	// ours is the signal's value this store wrote last, seen the value a
	// read last found moved by another.
	ours, seen uint64
}

// DeliverySignal is a token the processes sharing a database file share:
// each store keeping a delivery tail moves it after each commit.
type DeliverySignal interface {
	DeliveriesToken() (uint64, error)
	BumpDeliveries() (uint64, error)
}

type userTail struct {
	floor int64
	ds    []store.Delivery // by cursor, all above floor
}

const (
	// tailMax is how many deliveries a user's tail keeps; a stream further
	// behind reads the database.
	tailMax = 512
	// tailUsers bounds the users with a tail.
	tailUsers = 4096
)

func newDeliveryTail(db, rdb *sql.DB, signal DeliverySignal) (*deliveryTail, error) {
	t := &deliveryTail{rdb: rdb, signal: signal}
	if err := db.QueryRow(`PRAGMA data_version`).Scan(&t.version); err != nil {
		return nil, err
	}
	if signal != nil {
		tok, err := signal.DeliveriesToken()
		if err != nil {
			return nil, err
		}
		t.seen = tok
	}
	return t, t.resetFrom(db)
}

// resetFrom forgets every user's tail and takes the largest cursor db
// sees, all committed, as the horizon.
func (t *deliveryTail) resetFrom(db *sql.DB) error {
	var h int64
	if err := db.QueryRow(`SELECT coalesce(max(seq), 0) FROM deliveries`).Scan(&h); err != nil {
		t.off()
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.horizon = max(t.horizon, h)
	t.users = map[string]*userTail{}
	return nil
}

func (t *deliveryTail) off() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.users = nil
}

// forget drops every user's tail (deliveries were deleted); the horizon
// stands.
func (t *deliveryTail) forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users != nil {
		t.users = map[string]*userTail{}
	}
}

// afterCommit runs in the writer after each commit, before the writes'
// op.after. First the signal tells the other processes of this commit;
// then another connection's commit since the last check resets. In that
// order, a commit by another process is seen by one or the other: one
// before the check by data_version, one after it by its own signal, which
// it writes after this store's (had this store written last, a read would
// take the signal for its own).
func (t *deliveryTail) afterCommit(db *sql.DB) {
	if t.signal != nil {
		// A failed write leaves the others to see this commit at their
		// own next one (their data_version): late, never skipped.
		if tok, err := t.signal.BumpDeliveries(); err == nil {
			t.mu.Lock()
			t.ours = tok
			t.mu.Unlock()
		}
	}
	var v int64
	if err := db.QueryRow(`PRAGMA data_version`).Scan(&v); err != nil {
		t.off()
		return
	}
	t.mu.Lock()
	changed := v != t.version || t.users == nil
	t.version = v
	t.mu.Unlock()
	if changed {
		_ = t.resetFrom(db)
	}
}

// fresh checks, before a read, that no other process moved the signal
// since this store last looked; if one did, the tail is reset.
func (t *deliveryTail) fresh() bool {
	if t.signal == nil {
		return true
	}
	tok, err := t.signal.DeliveriesToken()
	if err != nil {
		return false
	}
	t.mu.Lock()
	moved := tok != t.ours && tok != t.seen
	t.mu.Unlock()
	if !moved {
		return true
	}
	if t.resetFrom(t.rdb) != nil {
		return false
	}
	t.mu.Lock()
	t.seen = tok
	t.mu.Unlock()
	return true
}

// publish adds committed deliveries, in cursor order.
func (t *deliveryTail) publish(ds []store.Delivery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		return
	}
	for _, d := range ds {
		if d.Cursor <= t.horizon {
			continue // at or below a horizon taken since: in the database
		}
		t.horizon = d.Cursor
		u := t.users[d.UserID]
		if u == nil {
			continue
		}
		u.ds = append(u.ds, d)
		if len(u.ds) > 2*tailMax {
			drop := len(u.ds) - tailMax
			u.floor = u.ds[drop-1].Cursor
			u.ds = slices.Clone(u.ds[drop:])
		}
	}
}

// read answers Deliveries for one user from the tail; ok is false when it
// cannot (then the database must).
func (t *deliveryTail) read(userID string, after int64, limit int) (ds []store.Delivery, ok bool) {
	if !t.fresh() {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == nil {
		return nil, false
	}
	u := t.users[userID]
	if u == nil {
		if len(t.users) < tailUsers {
			t.users[userID] = &userTail{floor: t.horizon}
		}
		return nil, false
	}
	if after < u.floor {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(u.ds, after, func(d store.Delivery, c int64) int {
		switch {
		case d.Cursor < c:
			return -1
		case d.Cursor > c:
			return 1
		}
		return 0
	})
	for i < len(u.ds) && u.ds[i].Cursor <= after {
		i++
	}
	n := len(u.ds) - i
	if limit > 0 {
		n = min(n, limit)
	}
	if n == 0 {
		return nil, true // as a query that finds none
	}
	return slices.Clone(u.ds[i : i+n]), true
}

// published returns the deliveries a write appended, as the database
// returns them, for publish.
func published(args [][]any, cursors []int64) []store.Delivery {
	out := make([]store.Delivery, len(args))
	for i, a := range args {
		payload, _ := a[5].([]byte)
		out[i] = store.Delivery{Cursor: cursors[i], UserID: a[0].(string), Kind: a[1].(string), RequestID: a[2].(string),
			Code: a[3].(string), DeviceID: a[4].(string), Payload: decBytes(payload),
			CreatedAt: decTime(a[6].(int64)), DueAt: decTime(a[7].(int64))}
	}
	return out
}
