package store

import (
	"context"
	"time"
)

// Reporting is the state of the Registration Data Interface (chapter 4) and
// of the reports the gateway makes of itself (para 259-273): RDPs and their
// nominations, registration files applied whole or not at all, their
// incidents and data refreshes, users' demand forecasts, daily counts of
// enrolled systems, and the timings and counts the reports read. The SQL
// backends implement it beside Store (assert with a type switch on the
// store they opened, not on a wrapper); storetest.RunReporting tests it.
//
// The readings of Store's contract apply: times to the nanosecond in UTC,
// stable orders, a write that fails changes nothing.
type Reporting interface {
	// PutRDP inserts or replaces a Registration Data Provider.
	PutRDP(ctx context.Context, r RDP) error
	// GetRDP returns one RDP or ErrNotFound.
	GetRDP(ctx context.Context, id string) (RDP, error)
	// ListRDPs lists the RDPs by ID.
	ListRDPs(ctx context.Context) ([]RDP, error)
	// PutNomination records that a network operator nominated an RDP from
	// n.At on; ErrDuplicate if it already has a nomination at that time.
	PutNomination(ctx context.Context, n Nomination) error
	// Nominations returns every nomination, by network operator then time.
	// The one in force for a network operator at time t is its latest with
	// At <= t.
	Nominations(ctx context.Context) ([]Nomination, error)

	// ApplyRegistrationFile writes what one registration file does in one
	// transaction: the file's record, the records it deletes and writes,
	// the incidents it raises and the refresh requests it answers. Either
	// all of it is stored or (on any error) none of it. ErrDuplicate if the
	// file is applied and another applied file of the RDP and fuel has its
	// sequence number, or an incident's Key is already used.
	ApplyRegistrationFile(ctx context.Context, a RegistrationApply) error
	// RegistrationFiles lists an RDP's files ("" for every RDP's), the most
	// recently received first; limit <= 0 does not limit.
	RegistrationFiles(ctx context.Context, rdp string, limit int) ([]RegistrationFile, error)
	// GetRegistrationFile returns one file's record or ErrNotFound.
	GetRegistrationFile(ctx context.Context, id string) (RegistrationFile, error)
	// LastSequence is the highest sequence number of the applied files of
	// an RDP and fuel, 0 if none.
	LastSequence(ctx context.Context, rdp, fuel string) (int64, error)
	// RegistrationHistory returns every record of the MPxNs given, by MPxN
	// then EffectiveFrom.
	RegistrationHistory(ctx context.Context, mpxns []string) ([]RegistrationRecord, error)
	// RegistrationsInEffect returns the record of every MPxN in effect at
	// time at (the latest EffectiveFrom <= at), by MPxN; with network
	// operators given, only the records naming one of them.
	RegistrationsInEffect(ctx context.Context, at time.Time, networkOperators []string) ([]RegistrationRecord, error)

	// PutRegistrationIncident stores a new incident; ErrDuplicate if its ID
	// or (non-empty) Key is already used, so a sweep raises one incident per
	// occurrence.
	PutRegistrationIncident(ctx context.Context, in RegistrationIncident) error
	// RegistrationIncidents lists incidents, by RaisedAt then ID.
	RegistrationIncidents(ctx context.Context, f IncidentFilter) ([]RegistrationIncident, error)
	// ResolveRegistrationIncident marks an open incident resolved;
	// ErrNotFound if there is none, ErrStale if it is resolved already.
	ResolveRegistrationIncident(ctx context.Context, id string, at time.Time, note string) error

	// PutRefreshRequest stores a new data refresh request (ErrDuplicate if
	// its ID exists).
	PutRefreshRequest(ctx context.Context, r RefreshRequest) error
	// RefreshRequests lists an RDP's refresh requests ("" for all), by
	// RequestedAt then ID; open only: those not yet received.
	RefreshRequests(ctx context.Context, rdp string, openOnly bool) ([]RefreshRequest, error)
	// MarkRefreshOverdue flags an open refresh request overdue at time at,
	// once: ErrStale if it is received or flagged already.
	MarkRefreshOverdue(ctx context.Context, id string, at time.Time) error

	// PutForecasts files forecasts in one transaction, each as the next
	// revision of its (user, service, month): history is kept.
	PutForecasts(ctx context.Context, fs []Forecast) error
	// Forecasts lists forecasts by user, service, month then revision.
	Forecasts(ctx context.Context, f ForecastFilter) ([]Forecast, error)

	// PutEnrolmentCounts records the count of enrolled Smart Metering
	// Systems per user on a day (its UTC date), replacing that day's.
	PutEnrolmentCounts(ctx context.Context, day time.Time, counts map[string]int, recordedAt time.Time) error
	// EnrolmentCounts returns a day's counts and whether the day was
	// recorded at all.
	EnrolmentCounts(ctx context.Context, day time.Time) (map[string]int, bool, error)

	// ResponseTimings returns the requests received before receivedBefore
	// that were received, or are to be executed, at or after activeSince,
	// with the time of their first Service Response, by ID.
	ResponseTimings(ctx context.Context, activeSince, receivedBefore time.Time) ([]ResponseTiming, error)
	// AlertDeliveries returns the alert deliveries due or created in
	// [from, to), by cursor.
	AlertDeliveries(ctx context.Context, from, to time.Time) ([]Delivery, error)
	// RequestCounts counts requests received in [from, to) per user and
	// service, by user then service; schedule runs only if asked.
	RequestCounts(ctx context.Context, from, to time.Time, scheduleRuns bool) ([]RequestCount, error)
	// FirstRequests returns when each user's first request was received.
	FirstRequests(ctx context.Context) (map[string]time.Time, error)
}

// RegistrationRecord is a Registration with the rest of what an RDP sends:
// the meter agent and, for electricity, the profile class (para 81); Source
// is the registration file that wrote it ("" where it was loaded
// otherwise).
type RegistrationRecord struct {
	Registration
	MeterAgent   string
	ProfileClass string
	Source       string
}

// RegistrationKey names one record: an MPxN and its EffectiveFrom.
type RegistrationKey struct {
	MPxN          string
	EffectiveFrom time.Time
}

// RDP is a Registration Data Provider (para 84). It authenticates as users
// do, with a client certificate naming its ID (organizational unit "RDP").
type RDP struct {
	ID        string
	Name      string
	CertPEM   string
	CreatedAt time.Time
}

// Nomination is a network operator naming its RDP from At on (para 84).
type Nomination struct {
	NetworkOperator string
	RDP             string
	At              time.Time
}

// RegistrationFile is the record of one file an RDP sent.
type RegistrationFile struct {
	ID         string
	RDP        string
	Kind       string // full, incremental
	Fuel       string // electricity, gas
	Sequence   int64
	Name       string
	SHA256     string
	ReceivedAt time.Time
	State      string // applied, rejected
	Rows       int    // data rows in the file
	Written    int    // records written
	Deleted    int    // records deleted
	Incident   string // the incident the file raised, if any
}

// RegistrationApply is everything one file does, stored at once.
type RegistrationApply struct {
	File RegistrationFile
	// Deletes are done before the upserts.
	Deletes   []RegistrationKey
	Upserts   []RegistrationRecord
	Incidents []RegistrationIncident
	// Answers are the refresh requests the file provides: marked received
	// at the file's ReceivedAt, with its ID.
	Answers []string
}

// RegistrationIncident is a registration data incident (para 87, 89).
type RegistrationIncident struct {
	ID   string
	Kind string // spec registration_data.incident_kinds
	RDP  string
	File string
	// Key, if set, is unique: it keeps a sweep from raising the same
	// incident twice ("not_received/RDP/window").
	Key        string
	RaisedAt   time.Time
	ResolvedAt time.Time
	Summary    string
	Resolution string
	// Rows counts the rows at fault; Detail is JSON: the rows at fault
	// (capped) or the records in dispute.
	Rows   int
	Detail []byte
}

// IncidentFilter selects incidents; zero fields do not filter.
type IncidentFilter struct {
	RDP      string
	Kind     string
	OpenOnly bool
}

// RefreshRequest is the DCC asking an RDP for a data refresh (para 89-91).
type RefreshRequest struct {
	ID              string
	RDP             string
	NetworkOperator string // "" for all the RDP serves
	Fuel            string // "" for both
	RequestedAt     time.Time
	DueAt           time.Time
	ReceivedAt      time.Time // zero until a full file answers it
	File            string
	OverdueAt       time.Time // when it was flagged overdue, zero if not
}

// Forecast is a user's forecast of its Service Requests of a service in a
// month (para 271). Revision counts from 1 per (user, service, month).
type Forecast struct {
	UserID   string
	Service  string // row key, e.g. "4.8"
	Month    string // YYYY-MM
	Count    int64
	FiledAt  time.Time
	Revision int
}

// ForecastFilter selects forecasts; zero fields do not filter.
type ForecastFilter struct {
	UserID  string
	Service string
	Month   string
	// FiledBefore keeps the revisions filed before it.
	FiledBefore time.Time
	// Latest keeps only the latest revision (of those kept) of each
	// (user, service, month).
	Latest bool
}

// ResponseTiming is what the Code Performance Measures need of a request.
type ResponseTiming struct {
	RequestID   string
	UserID      string
	Service     string
	Category    string
	State       string
	Reason      string
	PreCommand  bool // the request had a Pre-Command (critical)
	Held        bool // it was sequenced after another request (para 126-127)
	ReceivedAt  time.Time
	ExecuteAt   time.Time
	DueAt       time.Time // as the gateway recorded it
	CompletedAt time.Time
	// DeliveredAt is the creation of its first Service Response on the
	// user's stream; zero if none was delivered.
	DeliveredAt time.Time
}

// RequestCount is a number of requests of a user and service.
type RequestCount struct {
	UserID  string
	Service string
	Count   int
}
