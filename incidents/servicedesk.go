package incidents

import (
	"context"
	"errors"
	"fmt"

	"github.com/dccgate/dccgate/runtime/store"
)

// Ticket statuses.
const (
	TicketOpen           = "open"
	TicketAnswered       = "answered"
	TicketBecameIncident = "became_incident"
)

// TicketInput is a query raised at the Service Desk.
type TicketInput struct {
	// RaisedBy is a User ID, or for a SEC Party that is not a user, the
	// name it gives.
	RaisedBy string
	Party    string
	Kind     string
	Subject  string
	Body     string
	// Public: raised through the public form, by a party that has not
	// authenticated, so it may not speak for a DCC User.
	Public bool
}

// RaiseTicket records a Service Desk ticket (para 253-255): users may raise
// any kind; SEC Parties that are not users general queries only (para 254).
func (l *Log) RaiseTicket(ctx context.Context, in TicketInput) (store.Ticket, error) {
	sd := l.sp.ServiceManagement.ServiceDesk
	kind, ok := sd.Kinds[in.Kind]
	if !ok {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: fmt.Sprintf("unknown kind of ticket %q", in.Kind)}
	}
	if in.RaisedBy == "" || in.Subject == "" {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: "a ticket names who raises it and a subject"}
	}
	u, err := l.st.GetUser(ctx, in.RaisedBy)
	isUser := err == nil && u.Entered
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Ticket{}, err
	}
	if in.Public && err == nil {
		// Anyone can fill in the public form: it cannot raise a ticket
		// in a DCC User's name (a user signs in to the SSI).
		return store.Ticket{}, &Error{Code: CodeNotPermitted, Clause: sd.Clause, Message: "a DCC User raises tickets signed in to the Self-Service Interface, not through the public form"}
	}
	if !isUser && !kind.NonUsers {
		return store.Ticket{}, &Error{Code: CodeNotAUser, Clause: l.sp.ServiceManagement.Incidents.RaisedByClause, Message: fmt.Sprintf("a SEC Party that is not a DCC User raises general queries only, not %s", kind.Name)}
	}
	if isUser && in.Party == "" {
		in.Party = u.Party
	}
	now := l.clk.Now()
	t := store.Ticket{ID: l.nextID("TKT"), RaisedBy: in.RaisedBy, Party: in.Party, IsUser: isUser, Kind: in.Kind,
		Subject: in.Subject, Body: in.Body, Status: TicketOpen, CreatedAt: now, UpdatedAt: now}
	return t, l.st.PutTicket(ctx, t)
}

// Tickets lists the tickets a party raised (the DCC: all).
func (l *Log) Tickets(ctx context.Context, party string) ([]store.Ticket, error) {
	if party == DCC {
		party = ""
	}
	return l.st.ListTickets(ctx, party)
}

// Ticket returns a ticket its raiser (or the DCC) may see.
func (l *Log) Ticket(ctx context.Context, party, id string) (store.Ticket, error) {
	t, err := l.st.GetTicket(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && party != DCC && t.RaisedBy != party) {
		return store.Ticket{}, &Error{Code: CodeNotFound, Clause: l.sp.ServiceManagement.SSI.IsolationClause, Message: "no ticket " + id}
	}
	return t, err
}

// Escalate raises an incident from a user's ticket (the incident rules
// apply: a diagnostic first) and links the two.
func (l *Log) Escalate(ctx context.Context, ticketID string, in RaiseInput) (store.Ticket, store.Incident, error) {
	// One escalation of a ticket at a time: two at once would both find it
	// not yet an incident and raise two.
	l.escalating.Lock()
	defer l.escalating.Unlock()
	t, err := l.Ticket(ctx, in.Caller, ticketID)
	if err != nil {
		return t, store.Incident{}, err
	}
	if !t.IsUser {
		return t, store.Incident{}, &Error{Code: CodeNotAUser, Clause: l.sp.ServiceManagement.Incidents.RaisedByClause, Message: "only a DCC User's ticket can become an incident"}
	}
	if t.IncidentID != "" {
		return t, store.Incident{}, &Error{Code: CodeInvalid, Clause: l.sp.ServiceManagement.ServiceDesk.Clause, Message: "the ticket is already incident " + t.IncidentID}
	}
	in.TicketID = t.ID
	inc, err := l.Raise(ctx, in)
	if err != nil {
		return t, inc, err
	}
	t.Status, t.IncidentID, t.UpdatedAt = TicketBecameIncident, inc.ID, l.clk.Now()
	return t, inc, l.st.PutTicket(ctx, t)
}
