// Package store is the gateway's durable state behind one interface:
// users, Registration Data, the Smart Metering Inventory, Service Requests
// and their states, schedules, and the per-user stream of deliveries
// (Service Responses and Alerts). Backends sit side by side: sqlite (the
// embedded default, one file) and postgres (several gateways sharing the
// load). They are tested by one suite (storetest).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Errors every backend returns for these cases (compare with errors.Is).
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrStale is returned by a conditional update whose expected state no
	// longer holds (another worker or process moved the row first).
	ErrStale = errors.New("store: row changed since read")
	// ErrHeldSuccessor is returned by UpdateRequests for an update that
	// ends a request while a request stored held names it and is not
	// moved with it: list the held successors again and move them too.
	ErrHeldSuccessor = errors.New("store: a held request names the request ended")
)

// User is a DCC User: one User ID, one role (para 117).
type User struct {
	ID        string // EUI-64
	Role      string
	Party     string
	Suspended bool
	// Entered: the user completed User Entry (para 116); only entered users
	// may send requests.
	Entered bool
	// CertPEM is the user's certificate (for signature checks), if known.
	CertPEM string
	// LastCounter is the highest request counter accepted from this user.
	LastCounter uint64
}

// Registration is one MPxN's Registration Data, effective from a date.
type Registration struct {
	MPxN            string
	Fuel            string // electricity, gas
	ImportSupplier  string
	ExportSupplier  string
	NetworkOperator string
	Postcode        string
	Premises        string
	UPRN            string
	EffectiveFrom   time.Time // zero: since always
}

// Named is the User ID a field of the record names: the spec's names of
// the fields a role is registered in (import_supplier, export_supplier,
// network_operator); "" for any other.
func (r Registration) Named(field string) string {
	switch field {
	case "import_supplier":
		return r.ImportSupplier
	case "export_supplier":
		return r.ExportSupplier
	case "network_operator":
		return r.NetworkOperator
	}
	return ""
}

// Device is one entry of the Smart Metering Inventory.
type Device struct {
	ID     string
	Type   string // CHF GPF ESME GSME PPMID HCALCS IHD
	Status string // pending, installed_not_commissioned, commissioned, withdrawn, decommissioned
	MPxN   string // meters
	CHF    string // the Communications Hub Function it belongs to
	Meter  string // the meter a non-meter device is associated with
	// Credentials is the User ID whose supplier credential the device holds
	// (empty: the registered supplier).
	Credentials string
	UpdatedAt   time.Time
}

// Request is one Service Request and where it stands.
type Request struct {
	ID        string // originatorID:targetID:counter
	UserID    string
	Service   string // row key: "4.1", "1.1/credit"
	DeviceID  string
	Category  string // on_demand, future_dated, scheduled
	Delivery  string // wan, local, both
	ExecuteAt time.Time
	After     string // predecessor request ID (para 126-127)
	Body      []byte // JSON object of the fields
	Schedule  []byte // JSON of a 5.1 schedule spec
	// State: acknowledged, pending, held, awaiting_signature, executing,
	// accepted, rejected, quarantined, cancelled, expired.
	State       string
	Reason      string
	Clause      string
	Message     string
	ReceivedAt  time.Time
	DueAt       time.Time
	CompletedAt time.Time
	Response    []byte // JSON
	PreCommand  []byte
	Signed      []byte // the signed Pre-Command
	ScheduleID  string // set on the runs a schedule creates
	Attempts    int
}

// Final reports whether the state is an end state.
func (r *Request) Final() bool {
	return slices.Contains(FinalStates, r.State)
}

// FinalStates are the states a request ends in.
var FinalStates = []string{"accepted", "rejected", "quarantined", "cancelled", "expired", "failed"}

// CountFilter selects requests to count: a user's requests of some
// services received in (Since, Until], a window of Until-Since that ends at
// Until, in any of States (all states if none). An empty UserID or Services
// does not filter; a zero Until has no upper bound (a zero Since has no
// lower bound anyway).
type CountFilter struct {
	UserID   string
	Services []string // row keys
	Since    time.Time
	Until    time.Time
	States   []string
	// ExecutedRejections adds, to States, the rejected requests that were
	// executed (Attempts above 0): refused when run, by the device or when
	// they fell due, not by the checks of submission.
	ExecutedRejections bool
	// ScheduleRuns counts the runs of schedules too, which the DCC makes on
	// a user's behalf.
	ScheduleRuns bool
}

// RequestFilter selects requests; zero fields do not filter. ListRequests
// returns them by ReceivedAt then ID, or, when DueBefore is set, by
// ExecuteAt, ReceivedAt then ID (the earliest due first, so a Limit takes
// the most urgent). A zero ExecuteAt is due at any DueBefore.
type RequestFilter struct {
	UserID    string
	DeviceID  string
	States    []string
	After     string    // requests sequenced after this request ID
	DueBefore time.Time // ExecuteAt <= DueBefore (for pending work)
	// DueAt set and DueAt <= OverdueBy: requests past their time (a
	// Pre-Command left unsigned), found without reading those still in time.
	OverdueBy time.Time
	// PredecessorDone: requests sequenced after one that is final or
	// stored no more (a held one whose release is due).
	PredecessorDone bool
	// ReceivedFrom <= ReceivedAt < ReceivedBefore; a zero bound does not
	// bound (a user's history by period).
	ReceivedFrom, ReceivedBefore time.Time
	// Newest lists the latest received first (not with DueBefore).
	Newest bool
	Limit  int
	// Offset skips that many of the requests matched (pages of a history).
	Offset int
}

// RequestUpdate is one update of Store.UpdateRequests: Request replaces
// the stored request if it is still in From, as UpdateRequest's, and
// Deliveries are appended with it.
type RequestUpdate struct {
	Request    Request
	From       string
	Deliveries []Delivery
}

// UpdateError is the error of one update of Store.UpdateRequests: Index
// is its place in the updates, Err what went wrong (ErrStale, ErrNotFound,
// ErrHeldSuccessor, ...).
type UpdateError struct {
	Index int
	Err   error
}

func (e *UpdateError) Error() string { return fmt.Sprintf("update %d: %v", e.Index, e.Err) }

func (e *UpdateError) Unwrap() error { return e.Err }

// Schedule is a recurring service a user created with 5.1 (note 404).
type Schedule struct {
	ID       string
	UserID   string
	DeviceID string
	Service  string // the scheduled service's key, e.g. "4.8"
	Every    time.Duration
	Next     time.Time // next execution time
	// First is the first run: a run's timestamp fields are Body's moved
	// by the run's distance from it (spec categories.scheduled.moves_times).
	// Zero where it is Next (PutSchedule stores Next).
	First     time.Time
	Body      []byte
	CreatedBy string // the 5.1 request ID
}

// Delivery is one message on a user's stream: a Service Response or an
// Alert. Cursors are assigned by the store, increasing per store.
type Delivery struct {
	Cursor    int64
	UserID    string
	Kind      string // response, alert, pre_command (a held critical request released for its signature)
	RequestID string // for responses
	Code      string // alert code (A1-A35) for alerts
	DeviceID  string
	Payload   []byte // JSON
	CreatedAt time.Time
	DueAt     time.Time
}

// ResponsePayload is the Payload of a Service Response delivery (Kind
// "response"), as JSON. The fields are in the order of their keys, so the
// JSON is as a map of them would give.
type ResponsePayload struct {
	Clause     string          `json:"clause"`
	DeviceID   string          `json:"device_id"`
	Message    string          `json:"message"`
	PreCommand []byte          `json:"pre_command,omitempty"` // Kind "pre_command" only
	Reason     string          `json:"reason"`
	RequestID  string          `json:"request_id"`
	Response   json.RawMessage `json:"response"` // the device's or activity's answer; null when none
	Service    string          `json:"service"`
	State      string          `json:"state"`
}

// MinTime and MaxTime bound the non-zero times a Store keeps (nanoseconds
// of int64 since 1970: the years 1678 to 2262).
var (
	MinTime = time.Unix(0, math.MinInt64+1)
	MaxTime = time.Unix(0, math.MaxInt64)
)

// Store is the durable state. Every method is safe for concurrent use.
//
// Readings of this contract the backends share (storetest checks them):
//   - Times are kept to the nanosecond and returned in UTC; the zero time
//     round-trips as the zero time and sorts before every other time. A
//     non-zero time outside the years 1678 to 2262 is rejected.
//   - Empty and nil byte slices are both stored as absent and read back nil.
//   - Lists come back in a stable order: users, devices by ID; schedules by
//     Next then ID; requests as RequestFilter says; deliveries by cursor.
//   - A Limit or limit <= 0 does not limit.
//   - Conditional writes (SetDeviceStatus, UpdateRequest, AdvanceSchedule)
//     are single atomic statements: of two callers, in one process or
//     several, expecting the same state exactly one wins and the other gets
//     ErrStale. A row that does not exist at all gives ErrNotFound. A write
//     that returns an error has changed nothing. UpdateRequests makes
//     several such updates in one transaction, each as conditional.
type Store interface {
	Close() error
	// Ping checks the backend is reachable.
	Ping(ctx context.Context) error

	// PutUser inserts or replaces a user, except that it never lowers the
	// stored LastCounter: a copy of the user read before a request was
	// accepted must not reopen that counter to a replay.
	PutUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)

	PutRegistration(ctx context.Context, r Registration) error // insert or replace (MPxN, EffectiveFrom)
	// Registrations returns, for each MPxN given, the record in effect at
	// time at (the latest EffectiveFrom <= at), in the order of mpxns; an
	// MPxN with no record in effect is left out.
	Registrations(ctx context.Context, mpxns []string, at time.Time) ([]Registration, error)
	// RegistrationsAt returns the records in effect at time at whose
	// postcode and premises, or UPRN, match (empty arguments do not match),
	// ordered by MPxN. Matching is exact: normalise addresses before.
	RegistrationsAt(ctx context.Context, postcode, premises, uprn string, at time.Time) ([]Registration, error)

	PutDevice(ctx context.Context, d Device) error // insert or replace
	GetDevice(ctx context.Context, id string) (Device, error)
	// Devices lists inventory entries; zero filter fields do not filter.
	Devices(ctx context.Context, f DeviceFilter) ([]Device, error)
	// SetDeviceStatus moves a device from one status to another; ErrStale
	// if it is no longer in from.
	SetDeviceStatus(ctx context.Context, id, from, to string, at time.Time) error

	// InsertRequest stores a new request durably and, in the same
	// transaction, raises the user's LastCounter to counter. It returns
	// ErrDuplicate if the ID exists, and ErrStale if counter is not above
	// the user's LastCounter (a replay). A counter must be strictly above
	// LastCounter, and the user (r.UserID) must exist (ErrNotFound
	// otherwise). When the ID exists and the counter is also stale,
	// ErrDuplicate wins (the caller can look the request up). Counters use
	// the whole uint64 range.
	//
	// Counter 0 means the request has no user counter: the gateway made it
	// (a schedule's run), so no replay check applies and LastCounter is
	// left alone; only the ID guards it, so such IDs must be deterministic
	// (the same run gets the same ID and a second insert ErrDuplicate).
	// Users' requests always carry a counter of at least 1.
	InsertRequest(ctx context.Context, r Request, counter uint64) error
	GetRequest(ctx context.Context, id string) (Request, error)
	ListRequests(ctx context.Context, f RequestFilter) ([]Request, error)
	// UpdateRequest replaces the request if its stored state is still
	// fromState, all but what identifies it, which stays as inserted: user,
	// service, device, category, predecessor (After), ReceivedAt, Schedule
	// and ScheduleID (ErrStale otherwise; ErrNotFound if there is no such
	// request) and appends the deliveries in the same transaction,
	// returning their cursors. On any error no delivery is appended.
	// From "executing", the stored Attempts must also be r.Attempts: a
	// process whose claim was taken over (Leaser) cannot complete it.
	UpdateRequest(ctx context.Context, r Request, fromState string, deliveries []Delivery) ([]int64, error)
	// UpdateRequests makes several updates, each as UpdateRequest makes
	// one (a request at most once), in one transaction: all of them, or,
	// on an error, none. The error of an update comes in an *UpdateError
	// that names it; the cursors of each update's deliveries come back in
	// the order of the updates.
	//
	// It keeps sequencing whole (para 126-127): once it has written, no
	// request still held names as its predecessor a request it left final
	// (FinalStates). The updates that end a request carry the moves of the
	// requests held behind it (released, or ended too); a held one they
	// leave (stored since the caller listed them, say) fails the ending
	// update with ErrHeldSuccessor. So a reader sees a predecessor's end
	// and its successors' moves together or neither. A request no held
	// request was ever stored naming costs no check: the insert of a held
	// request marks its predecessor (never unmarked), and an ending update
	// of an unmarked request is the one conditional statement of
	// UpdateRequest. A held request whose insert comes after its
	// predecessor's end is not refused: whoever stores it reads the
	// predecessor again.
	UpdateRequests(ctx context.Context, updates []RequestUpdate) ([][]int64, error)
	// CountRequests counts the requests the filter selects.
	CountRequests(ctx context.Context, f CountFilter) (int, error)

	PutSchedule(ctx context.Context, s Schedule) error // insert or replace
	// DeleteSchedule deletes a schedule; ErrNotFound if there is none.
	DeleteSchedule(ctx context.Context, id string) error
	ListSchedules(ctx context.Context, f ScheduleFilter) ([]Schedule, error)
	// AdvanceSchedule moves a schedule's Next from `from` to `to`
	// (ErrStale if it is no longer from), so a run happens once.
	AdvanceSchedule(ctx context.Context, id string, from, to time.Time) error

	// AppendDeliveries appends messages to users' streams and returns their
	// cursors in order.
	//
	// Cursors only grow, and they become visible in cursor order: once a
	// reader has seen cursor c, no message with a cursor below c can appear
	// later, so resuming from the last cursor read never skips a message
	// (PostgreSQL serialises appends to keep this). Cursors are never
	// reused, not even after Reset.
	AppendDeliveries(ctx context.Context, ds []Delivery) ([]int64, error)
	// Deliveries returns a user's messages with cursor > after, in cursor
	// order; userID "" returns every user's.
	Deliveries(ctx context.Context, userID string, after int64, limit int) ([]Delivery, error)
	// StreamEnd returns the cursor of a user's newest message (0: none),
	// where a reader that wants no earlier message starts.
	StreamEnd(ctx context.Context, userID string) (int64, error)
	// Reset deletes everything (test and scenario worlds only).
	Reset(ctx context.Context) error
}

// DeviceFilter selects inventory entries.
type DeviceFilter struct {
	CHF   string
	Meter string
	MPxN  string
	Type  string
	IDs   []string
	// Limit caps the entries returned (the first by ID); 0 does not.
	Limit int
}

// ScheduleFilter selects schedules.
type ScheduleFilter struct {
	UserID    string
	DeviceID  string
	DueBefore time.Time // Next <= DueBefore
	Limit     int       // at most this many, the soonest first (0: all)
}

// CommitStats is what a backend's group commit has done since it opened.
type CommitStats struct {
	// Commits counts the transactions committed (or failed) for writes.
	Commits uint64
	// Writes counts the writes in them: Writes/Commits is the mean batch.
	Writes uint64
	// CommitTime is the time spent running and committing them.
	CommitTime time.Duration
}

// Purger is implemented by stores that delete history past its retention:
// PurgeBefore deletes at most limit requests received before `before`
// that are final (a request still to run stays, however old), with their
// deliveries (and what DUIS kept of them), and the deliveries made before
// `before` among the first limit by cursor (they are made in time order),
// and so the alerts quarantined before `before` (AlertQuarantine); it
// returns how many requests, deliveries and alerts went (0: nothing more
// to delete).
type Purger interface {
	PurgeBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// CommitStatser is implemented by backends that commit writes in groups,
// for metrics.
type CommitStatser interface {
	CommitStats() CommitStats
}

// BulkLoader is implemented by backends that can seed a large inventory
// quickly: registrations and devices in big transactions of multi-row
// inserts (insert or replace, as PutRegistration and PutDevice).
type BulkLoader interface {
	BulkLoad(ctx context.Context, regs []Registration, devs []Device) error
}

// Walker is implemented by backends that can stream a large inventory and
// its Registration Data instead of returning it whole, so a daily count
// over millions of systems runs in bounded memory.
type Walker interface {
	// WalkDevicesByHub calls fn with each Communications Hub's group: the
	// hub (if the inventory holds it) and the devices on it, by ID; a
	// device on no hub is a group of its own. Groups come in hub ID order.
	WalkDevicesByHub(ctx context.Context, fn func(group []Device) error) error
	// WalkRegistrationsInEffect calls fn with the record of each MPxN in
	// effect at `at`, by MPxN.
	WalkRegistrationsInEffect(ctx context.Context, at time.Time, fn func(Registration) error) error
}

// AsyncInserter is implemented by stores that commit writes in groups.
// InsertRequestAsync queues the insert of InsertRequest behind the writes
// queued before it and returns at once; wait returns what InsertRequest
// would have, once committed. Two calls made one after the other commit in
// that order, so a caller that serialises the calls (the gateway, per
// user) keeps its counters in order without holding its lock through the
// commit.
type AsyncInserter interface {
	InsertRequestAsync(ctx context.Context, r Request, counter uint64) (wait func() error)
}
