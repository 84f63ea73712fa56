package store

import (
	"context"
	"encoding/json"
	"time"
)

// ServiceManagement is the state of service management (para 206-255):
// the Incident Management Log with each incident's timeline, Service Desk
// tickets, planned maintenance windows, releases and feedback on the
// Self-Service Interface. The SQL backends implement it beside Store
// (assert with a type switch on the store they opened); storetest
// RunServiceManagement tests it. The readings of Store's contract apply.
type ServiceManagement interface {
	// InsertIncident stores a new incident and the first event of its
	// timeline in one transaction; ErrDuplicate if the ID is used.
	InsertIncident(ctx context.Context, in Incident, ev IncidentEvent) error
	// UpdateIncident replaces the incident if its stored status is still
	// fromStatus (ErrStale otherwise, ErrNotFound if there is none) and
	// appends ev to its timeline (its Seq is assigned), in one transaction.
	UpdateIncident(ctx context.Context, in Incident, fromStatus string, ev IncidentEvent) error
	GetIncident(ctx context.Context, id string) (Incident, error)
	// ListIncidents lists incidents by RaisedAt then ID.
	ListIncidents(ctx context.Context, f IncidentLogFilter) ([]Incident, error)
	// IncidentEvents returns an incident's timeline in order.
	IncidentEvents(ctx context.Context, id string) ([]IncidentEvent, error)

	// PutTicket inserts or replaces a Service Desk ticket.
	PutTicket(ctx context.Context, t Ticket) error
	GetTicket(ctx context.Context, id string) (Ticket, error)
	// ListTickets lists the tickets one party raised ("" for all), by
	// CreatedAt then ID.
	ListTickets(ctx context.Context, raisedBy string) ([]Ticket, error)

	// PutMaintenance inserts or replaces a maintenance window.
	PutMaintenance(ctx context.Context, w MaintenanceWindow) error
	// MaintenanceWindows lists the windows that overlap [from, to), by
	// StartsAt then ID; a zero to has no upper bound.
	MaintenanceWindows(ctx context.Context, from, to time.Time) ([]MaintenanceWindow, error)

	// PutRelease inserts or replaces a release; Releases lists them by
	// ImplementAt then ID.
	PutRelease(ctx context.Context, r Release) error
	Releases(ctx context.Context) ([]Release, error)

	// PutFeedback stores feedback on the SSI's content (para 247);
	// Feedback lists a user's ("" for all), by At then ID.
	PutFeedback(ctx context.Context, f Feedback) error
	Feedback(ctx context.Context, userID string) ([]Feedback, error)

	// PutDiagnosis stores the result of a remote diagnostic in place of
	// the last one of the same caller and device (para 226-227);
	// GetDiagnosis reads it back by ID (ErrNotFound once replaced or
	// deleted); DeleteDiagnosis deletes it, if it is there.
	PutDiagnosis(ctx context.Context, d Diagnosis) error
	GetDiagnosis(ctx context.Context, id string) (Diagnosis, error)
	DeleteDiagnosis(ctx context.Context, id string) error
}

// Diagnosis is the result of a remote diagnostic a user ran on a device
// before raising an incident about it (para 226-227).
type Diagnosis struct {
	ID       string          `json:"id"`
	Tool     string          `json:"tool"`
	Caller   string          `json:"caller"`
	DeviceID string          `json:"device_id"`
	Result   string          `json:"result"` // a one-line summary
	Data     json.RawMessage `json:"data"`
	At       time.Time       `json:"at"`
}

// Incident is one entry of the Incident Management Log (para 225).
type Incident struct {
	ID          string `json:"id"`
	RaisedBy    string `json:"raised_by"` // User ID
	Category    string `json:"category"`  // "1" .. "5"
	Priority    string `json:"priority"`
	Status      string `json:"status"` // open, allocated, resolved, closed
	Area        string `json:"area"`
	DeviceID    string `json:"device_id"`
	RequestID   string `json:"request_id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// ResponsibleParty is "dcc" or "supplier"; ResponsibleUser the
	// supplier's User ID.
	ResponsibleParty   string `json:"responsible_party"`
	ResponsibleUser    string `json:"responsible_user"`
	ResponsibilityRule string `json:"responsibility_rule"`
	Clause             string `json:"clause"`
	// Interested are the interested parties ("dcc" or User IDs).
	Interested []string `json:"interested"`
	// Major incidents (para 233-235).
	Major        bool      `json:"major"`
	DCCManager   string    `json:"dcc_manager"`
	PartyManager string    `json:"party_manager"`
	Notified     []string  `json:"notified"`
	RaisedAt     time.Time `json:"raised_at"`
	TargetAt     time.Time `json:"target_at"` // RaisedAt plus the category's Target Resolution Time
	AllocatedAt  time.Time `json:"allocated_at"`
	ResolvedAt   time.Time `json:"resolved_at"`
	ClosedAt     time.Time `json:"closed_at"`
	ReviewDueAt  time.Time `json:"review_due_at"`
	ReviewedAt   time.Time `json:"reviewed_at"`
	Review       string    `json:"review"`
	TicketID     string    `json:"ticket_id"`
}

// IncidentEvent is one entry of an incident's timeline.
type IncidentEvent struct {
	IncidentID string    `json:"incident_id"`
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Kind       string    `json:"kind"`   // raised, allocated, awaiting_allocation, reopened, update, diagnostic, recategorised, resolved, closed, major, review
	Status     string    `json:"status"` // the status after the event
	Note       string    `json:"note"`
	Data       []byte    `json:"data"` // JSON: diagnostic data
}

// MarshalJSON writes Data, JSON itself, as JSON, not as base64 (and leaves
// it out where it is empty or, by some fault, not JSON).
func (e IncidentEvent) MarshalJSON() ([]byte, error) {
	type plain IncidentEvent // without this method
	out := struct {
		plain
		Data json.RawMessage `json:"data,omitempty"`
	}{plain: plain(e)}
	if json.Valid(e.Data) {
		out.Data = e.Data
	}
	return json.Marshal(out)
}

// IncidentLogFilter selects incidents; zero fields do not filter.
type IncidentLogFilter struct {
	// Party selects incidents the party raised, is responsible for or is
	// interested in.
	Party         string
	Statuses      []string
	Major         bool
	RaisedFrom    time.Time
	RaisedBefore  time.Time
	ResolvedFrom  time.Time // ResolvedAt >= ResolvedFrom
	ResolvedUntil time.Time // ResolvedAt < ResolvedUntil
}

// Ticket is a Service Desk ticket (para 253-255).
type Ticket struct {
	ID         string    `json:"id"`
	RaisedBy   string    `json:"raised_by"` // a User ID, or a SEC Party's name
	Party      string    `json:"party"`
	IsUser     bool      `json:"is_user"`
	Kind       string    `json:"kind"`
	Subject    string    `json:"subject"`
	Body       string    `json:"body"`
	Status     string    `json:"status"` // open, answered, became_incident, closed
	IncidentID string    `json:"incident_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// Answer is the Service Desk's answer, given at AnsweredAt (zero
	// until answered).
	Answer     string    `json:"answer"`
	AnsweredAt time.Time `json:"answered_at"`
	// Contact is where the Service Desk answers a SEC Party that is not a
	// DCC User (an email address or a telephone number, para 254-255);
	// "" for a user's ticket, which the user follows in the SSI.
	Contact string `json:"contact,omitempty"`
	// LookupHash is the SHA-256 (hex) of the secret code with which the
	// raiser of a public ticket looks it up; "" where there is none. The
	// code itself is never stored, nor the hash shown.
	LookupHash string `json:"-"`
}

// MaintenanceWindow is a planned maintenance window (para 213).
type MaintenanceWindow struct {
	ID              string    `json:"id"`
	StartsAt        time.Time `json:"starts_at"`
	EndsAt          time.Time `json:"ends_at"`
	Description     string    `json:"description"`
	PublishedAt     time.Time `json:"published_at"`
	PanelApproval   string    `json:"panel_approval"` // the Panel's decision reference, if needed
	PanelApprovedAt time.Time `json:"panel_approved_at"`
	Cancelled       bool      `json:"cancelled"`
}

// Release is a release of the DCC's systems (para 209-216).
type Release struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	AnnouncedAt time.Time `json:"announced_at"`
	ImplementAt time.Time `json:"implement_at"`
	Notes       string    `json:"notes"`
}

// Feedback is a user's feedback on the SSI's content (para 247).
type Feedback struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	Page   string    `json:"page"`
	Body   string    `json:"body"`
	At     time.Time `json:"at"`
}
