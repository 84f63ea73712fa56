package incidents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// TicketStatuses are the statuses a ticket may have.
var TicketStatuses = []string{TicketOpen, TicketAnswered, TicketBecameIncident}

// Tickets lists the tickets a party raised (the DCC: all), those of the
// statuses given if any; a status that is not a ticket's is refused.
func (l *Log) Tickets(ctx context.Context, party string, statuses ...string) ([]store.Ticket, error) {
	for _, st := range statuses {
		if !slices.Contains(TicketStatuses, st) {
			return nil, &Error{Code: CodeInvalid, Clause: l.sp.ServiceManagement.ServiceDesk.Clause, Message: fmt.Sprintf("ticket status %q: allowed are %s", st, strings.Join(TicketStatuses, ", "))}
		}
	}
	if party == DCC {
		party = ""
	}
	ts, err := l.st.ListTickets(ctx, party)
	if err != nil || len(statuses) == 0 {
		return ts, err
	}
	return slices.DeleteFunc(ts, func(t store.Ticket) bool { return !slices.Contains(statuses, t.Status) }), nil
}

// AnswerTicket is the Service Desk answering a ticket (para 253-255): the
// DCC only. The ticket is answered, with the answer and the clock's time,
// which its raiser sees with its tickets; answered again, the later answer
// stands. A ticket that became an incident is followed in the incident's
// timeline, not answered.
func (l *Log) AnswerTicket(ctx context.Context, actor, id, answer string) (store.Ticket, error) {
	sd := l.sp.ServiceManagement.ServiceDesk
	if actor != DCC {
		return store.Ticket{}, &Error{Code: CodeNotPermitted, Clause: sd.Clause, Message: "only the DCC's Service Desk answers a ticket"}
	}
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: "an answer needs a text"}
	}
	// Not at once with an escalation of the same ticket: each writes the
	// whole ticket, and one would undo the other.
	l.escalating.Lock()
	defer l.escalating.Unlock()
	t, err := l.Ticket(ctx, actor, id)
	if err != nil {
		return t, err
	}
	if t.Status == TicketBecameIncident {
		return t, &Error{Code: CodeTransition, Clause: sd.Clause, Message: fmt.Sprintf("ticket %s became incident %s: answer in its timeline", t.ID, t.IncidentID)}
	}
	now := l.clk.Now()
	t.Status, t.Answer, t.AnsweredAt, t.UpdatedAt = TicketAnswered, answer, now, now
	return t, l.st.PutTicket(ctx, t)
}

// Feedback lists the feedback users gave on the Self-Service Interface's
// content (para 247), one user's ("" for all), oldest first.
func (l *Log) Feedback(ctx context.Context, userID string) ([]store.Feedback, error) {
	return l.st.Feedback(ctx, userID)
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
