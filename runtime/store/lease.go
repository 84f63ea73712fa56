package store

import (
	"context"
	"time"
)

// Leaser is implemented by stores that several gateway processes can share
// (runtime/store/sqlstore, on SQLite and PostgreSQL). A request being
// worked on carries a lease: the process that claimed it (its owner) and
// until when (wall-clock time, not the gateway's clock, which may be
// virtual). A live process renews its leases; when a process dies, another
// takes its work over once the leases have expired, and the one that lost
// a lease can no longer complete the request: UpdateRequest (as each
// update of UpdateRequests) from "executing" requires the stored Attempts
// to be the request's, and every claim counts an attempt.
type Leaser interface {
	// ClaimRequest moves a request from acknowledged to executing for
	// owner, leased until `until`, and counts an attempt, in one
	// conditional statement; it returns the request as claimed and its
	// user's role as that statement read it ("" with no such user): the
	// role the Command is sent with, which a process sharing the store
	// would otherwise read in a statement of its own. ErrStale if the
	// request is not acknowledged (another worker or process has it, or
	// it is done), ErrNotFound if there is none.
	ClaimRequest(ctx context.Context, id, owner string, until time.Time) (r Request, role string, err error)
	// RenewLeases extends to `until` the leases of the requests owner is
	// executing and returns how many. A zero until gives them up at once
	// (a process that stops hands its work to the others).
	RenewLeases(ctx context.Context, owner string, until time.Time) (int, error)
	// ReclaimRequests takes over the acknowledged and executing requests
	// whose lease expired before `expired`: they become acknowledged,
	// leased to owner until `until` (their Attempts unchanged), and their
	// IDs are returned for owner to queue. An acknowledged request that
	// was never leased (it waits in some process's queue) is not taken at
	// once: the first call stamps it with a lease until `until`, and it is
	// taken when that expires with the request still waiting. Of several
	// processes reclaiming at once, each request goes to one.
	ReclaimRequests(ctx context.Context, owner string, expired, until time.Time) ([]string, error)
}

// DeliveryWatcher is implemented by stores that can tell a process when
// another process appended deliveries (PostgreSQL: LISTEN/NOTIFY), so a
// user's stream follows messages whichever process made them.
type DeliveryWatcher interface {
	// WatchDeliveries calls wake after deliveries were appended by another
	// store (another process), with the users they went to, until ctx
	// ends; this store's own appends are not reported (whoever made them
	// wakes its readers itself). users is nil
	// when they cannot be named: after each reconnection, when some may
	// have been missed, or for an append to more users than a notification
	// carries; every stream must then look for itself. It returns
	// errors.ErrUnsupported at once if the backend cannot watch.
	WatchDeliveries(ctx context.Context, wake func(users []string)) error
}

// ClaimObserver is implemented by store wrappers (telemetry) that follow a
// request's execution: a process on a store without leases claims a
// request in memory, with no write for the wrapper to see, and tells it
// here instead.
type ClaimObserver interface {
	Claimed(ctx context.Context, r Request)
}

// Unwrapper is implemented by store wrappers (telemetry) that give access
// to the store they wrap.
type Unwrapper interface {
	Unwrap() Store
}

// As finds in st, or in the stores it wraps, one that implements T.
func As[T any](st Store) (T, bool) {
	for st != nil {
		if t, ok := st.(T); ok {
			return t, true
		}
		u, ok := st.(Unwrapper)
		if !ok {
			break
		}
		st = u.Unwrap()
	}
	var zero T
	return zero, false
}

// CheckReader is implemented by stores that read in one statement what the
// checks of a submission read from the store: its user, its target device,
// and the Registration Data in effect for the device's own MPxN. On a
// database server those are three round trips a request apart; a store
// that several processes share is read for each (no process may keep a
// copy), so reading them together takes two statements off a request to a
// meter (one off a request to a device with no MPxN of its own, whose
// meters' records are read apart). The three are read in one snapshot.
//
// An error that wraps errors.ErrUnsupported (a time the store cannot hold)
// says to read them one by one, where the same error comes after the
// checks that precede the registration's read.
type CheckReader interface {
	ReadForChecks(ctx context.Context, userID, deviceID string, at time.Time) (CheckRead, error)
}

// CheckRead is what ReadForChecks found: the user and the device (the
// zero value, with the flag false, where none has the ID given; an empty
// device ID finds none), and the record in effect at the time given for
// the device's MPxN (at most one: none if the device has no MPxN of its own,
// or the MPxN no record in effect then), as Registrations would return it;
// and the status of the Communications Hub Function the device names, if
// that hub is on the inventory (whether the DCC can reach the device).
type CheckRead struct {
	User          User
	UserFound     bool
	Device        Device
	DeviceFound   bool
	Registrations []Registration
	CHFStatus     string
}
