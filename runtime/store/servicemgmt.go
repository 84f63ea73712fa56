package store

import (
	"context"
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
}

// Incident is one entry of the Incident Management Log (para 225).
type Incident struct {
	ID          string
	RaisedBy    string // User ID
	Category    string // "1" .. "5"
	Priority    string
	Status      string // open, allocated, resolved, closed
	Area        string
	DeviceID    string
	RequestID   string
	Title       string
	Description string
	// ResponsibleParty is "dcc" or "supplier"; ResponsibleUser the
	// supplier's User ID.
	ResponsibleParty   string
	ResponsibleUser    string
	ResponsibilityRule string
	Clause             string
	// Interested are the interested parties ("dcc" or User IDs).
	Interested []string
	// Major incidents (para 233-235).
	Major        bool
	DCCManager   string
	PartyManager string
	Notified     []string
	RaisedAt     time.Time
	TargetAt     time.Time // RaisedAt plus the category's Target Resolution Time
	AllocatedAt  time.Time
	ResolvedAt   time.Time
	ClosedAt     time.Time
	ReviewDueAt  time.Time
	ReviewedAt   time.Time
	Review       string
	TicketID     string
}

// IncidentEvent is one entry of an incident's timeline.
type IncidentEvent struct {
	IncidentID string
	Seq        int
	At         time.Time
	Actor      string
	Kind       string // raised, allocated, update, diagnostic, resolved, closed, major, review
	Status     string // the status after the event
	Note       string
	Data       []byte // JSON: diagnostic data
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
	ID         string
	RaisedBy   string // a User ID, or a SEC Party's name
	Party      string
	IsUser     bool
	Kind       string
	Subject    string
	Body       string
	Status     string // open, answered, became_incident, closed
	IncidentID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// MaintenanceWindow is a planned maintenance window (para 213).
type MaintenanceWindow struct {
	ID              string
	StartsAt        time.Time
	EndsAt          time.Time
	Description     string
	PublishedAt     time.Time
	PanelApproval   string // the Panel's decision reference, if needed
	PanelApprovedAt time.Time
	Cancelled       bool
}

// Release is a release of the DCC's systems (para 209-216).
type Release struct {
	ID          string
	Kind        string
	Name        string
	AnnouncedAt time.Time
	ImplementAt time.Time
	Notes       string
}

// Feedback is a user's feedback on the SSI's content (para 247).
type Feedback struct {
	ID     string
	UserID string
	Page   string
	Body   string
	At     time.Time
}
