package incidents

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
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
	// Contact is where the Service Desk answers a SEC Party that is not a
	// user: an email address or a telephone number (the spec's
	// service_desk.contact_patterns). A public ticket needs one.
	Contact string
	// Public: raised through the public form, by a party that has not
	// authenticated, so it may not speak for a DCC User.
	Public bool
}

// TicketLimits are the longest texts of a ticket's fields, in characters:
// the party's name and the contact by the spec's
// service_desk.ticket_max_chars, the subject and the body by
// incidents.limits title and description (a ticket is held to what an
// incident it may become takes).
type TicketLimits struct {
	Party   int `json:"party"`
	Subject int `json:"-"`
	Body    int `json:"-"`
	Contact int `json:"contact"`
}

// DeskRules are the Service Desk's rules of the spec that its typed model
// does not carry, read from the spec's data: the limits of a ticket's
// fields and the patterns of a contact.
type DeskRules struct {
	MaxChars        TicketLimits `json:"ticket_max_chars"`
	ContactPatterns struct {
		Email     string `json:"email"`
		Telephone string `json:"telephone"`
	} `json:"contact_patterns"`

	// limitsClause is the clause of incidents.limits.
	limitsClause     string
	email, telephone *regexp.Regexp
}

// deskRules caches DeskRulesOf by spec (a spec is never changed once
// loaded; a reload makes a new one).
var deskRules sync.Map // *spec.Spec -> *DeskRules

// DeskRulesOf reads the Service Desk's rules from the spec's
// service_management.service_desk.
func DeskRulesOf(sp *spec.Spec) (*DeskRules, error) {
	if r, ok := deskRules.Load(sp); ok {
		return r.(*DeskRules), nil
	}
	sm, _ := sp.Data()["service_management"].(map[string]any)
	r := &DeskRules{}
	var inc struct {
		Limits struct {
			Clause      string `json:"clause"`
			Title       int    `json:"title"`
			Description int    `json:"description"`
		} `json:"limits"`
	}
	for _, part := range []struct {
		name string
		into any
	}{{"service_desk", r}, {"incidents", &inc}} {
		raw, err := json.Marshal(sm[part.name])
		if err == nil {
			err = json.Unmarshal(raw, part.into)
		}
		if err != nil {
			return nil, fmt.Errorf("incidents: the spec's %s: %w", part.name, err)
		}
	}
	r.MaxChars.Subject, r.MaxChars.Body, r.limitsClause = inc.Limits.Title, inc.Limits.Description, inc.Limits.Clause
	if m := r.MaxChars; m.Party <= 0 || m.Subject <= 0 || m.Body <= 0 || m.Contact <= 0 {
		return nil, errors.New("incidents: the spec's service_desk.ticket_max_chars (party, contact) and incidents.limits (title, description) must be above 0")
	}
	var err error
	if r.email, err = regexp.Compile(r.ContactPatterns.Email); err == nil {
		r.telephone, err = regexp.Compile(r.ContactPatterns.Telephone)
	}
	if err != nil || r.ContactPatterns.Email == "" || r.ContactPatterns.Telephone == "" {
		return nil, fmt.Errorf("incidents: the spec's service_desk.contact_patterns: email and telephone patterns needed (%v)", err)
	}
	got, _ := deskRules.LoadOrStore(sp, r)
	return got.(*DeskRules), nil
}

// ValidContact reports whether a contact is an email address or a
// telephone number by the spec's patterns.
func (r *DeskRules) ValidContact(c string) bool {
	return r.email.MatchString(c) || r.telephone.MatchString(c)
}

// checkLengths refuses a ticket whose fields are longer than the spec
// allows, naming each.
func (r *DeskRules) checkLengths(in TicketInput, deskClause string) error {
	type field struct {
		name, text, clause string
		max                int
	}
	fields := []field{{"the party's name", in.RaisedBy, deskClause, r.MaxChars.Party}, {"the contact", in.Contact, deskClause, r.MaxChars.Contact},
		{"the subject", in.Subject, r.limitsClause, r.MaxChars.Subject}, {"the details", in.Body, r.limitsClause, r.MaxChars.Body}}
	if in.Party != in.RaisedBy {
		fields = append(fields, field{"the party's name", in.Party, deskClause, r.MaxChars.Party})
	}
	var long []string
	clause := ""
	for _, f := range fields {
		if n := utf8.RuneCountInString(f.text); n > f.max {
			long = append(long, fmt.Sprintf("%s is %d characters long, more than the %d allowed", f.name, n, f.max))
			clause = f.clause
		}
	}
	if len(long) == 0 {
		return nil
	}
	return &Error{Code: CodeTooLong, Clause: clause, Message: strings.Join(long, "; ")}
}

// RaiseTicket records a Service Desk ticket (para 253-255): users may raise
// any kind; SEC Parties that are not users general queries only (para 254).
// A ticket raised with Public set needs a contact; RaisePublicTicket raises
// one with the code its raiser looks it up with.
func (l *Log) RaiseTicket(ctx context.Context, in TicketInput) (store.Ticket, error) {
	return l.raiseTicket(ctx, in, "")
}

// RaisePublicTicket records a ticket from the public form of a SEC Party
// that is not a DCC User (para 254), with the contact where the Service
// Desk answers it (para 255), and returns with it the secret code with
// which its raiser looks it up (LookupTicket). Only the code's hash is
// kept: the code is returned this once.
func (l *Log) RaisePublicTicket(ctx context.Context, in TicketInput) (store.Ticket, string, error) {
	in.Public = true
	code := newLookupCode()
	t, err := l.raiseTicket(ctx, in, lookupHash(code))
	if err != nil {
		return t, "", err
	}
	return t, code, nil
}

// LookupTicket returns a public ticket (with its status and the Service
// Desk's answer) to whoever has its reference and its code; a wrong code,
// or a ticket raised otherwise, is not found, the same answer as no ticket.
func (l *Log) LookupTicket(ctx context.Context, id, code string) (store.Ticket, error) {
	notFound := &Error{Code: CodeNotFound, Clause: l.sp.ServiceManagement.ServiceDesk.Clause, Message: "no ticket with this reference and code"}
	t, err := l.st.GetTicket(ctx, strings.TrimSpace(id))
	if errors.Is(err, store.ErrNotFound) {
		return store.Ticket{}, notFound
	} else if err != nil {
		return store.Ticket{}, err
	}
	if t.LookupHash == "" || subtle.ConstantTimeCompare([]byte(lookupHash(code)), []byte(t.LookupHash)) != 1 {
		return store.Ticket{}, notFound
	}
	return t, nil
}

// lookupCodeBytes is the randomness of a look-up code: 120 bits, 24
// characters of base32.
const lookupCodeBytes = 15

// newLookupCode makes a look-up code, written in groups of four: "ABCD-EFGH-...".
func newLookupCode() string {
	b := make([]byte, lookupCodeBytes)
	_, _ = rand.Read(b)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	var groups []string
	for len(enc) > 4 {
		groups, enc = append(groups, enc[:4]), enc[4:]
	}
	return strings.Join(append(groups, enc), "-")
}

// codeTypos are the characters base32 lacks that a code read aloud or
// typed may carry instead of those it has.
var codeTypos = strings.NewReplacer("-", "", " ", "", "0", "O", "1", "I", "8", "B")

// lookupHash is the hash kept of a look-up code, as typed: capitals or
// not, with or without its hyphens and spaces.
func lookupHash(code string) string {
	sum := sha256.Sum256([]byte("dccgate-ticket-lookup:" + codeTypos.Replace(strings.ToUpper(strings.TrimSpace(code)))))
	return hex.EncodeToString(sum[:])
}

func (l *Log) raiseTicket(ctx context.Context, in TicketInput, hash string) (store.Ticket, error) {
	sd := l.sp.ServiceManagement.ServiceDesk
	rules, err := DeskRulesOf(l.sp)
	if err != nil {
		return store.Ticket{}, err
	}
	kind, ok := sd.Kinds[in.Kind]
	if !ok {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: fmt.Sprintf("unknown kind of ticket %q", in.Kind)}
	}
	in.Contact = strings.TrimSpace(in.Contact)
	if in.RaisedBy == "" || in.Subject == "" {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: "a ticket names who raises it and a subject"}
	}
	if err := rules.checkLengths(in, sd.Clause); err != nil {
		return store.Ticket{}, err
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
	if in.Public && in.Contact == "" {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: "give an email address or a telephone number where the Service Desk answers you"}
	}
	if in.Contact != "" && !rules.ValidContact(in.Contact) {
		return store.Ticket{}, &Error{Code: CodeInvalid, Clause: sd.Clause, Message: fmt.Sprintf("the contact %q is neither an email address (name@example.org) nor a telephone number (+44 20 7946 0000)", in.Contact)}
	}
	if isUser && in.Party == "" {
		in.Party = u.Party
	}
	now := l.clk.Now()
	t := store.Ticket{ID: l.nextID("TKT"), RaisedBy: in.RaisedBy, Party: in.Party, IsUser: isUser, Kind: in.Kind,
		Subject: in.Subject, Body: in.Body, Status: TicketOpen, CreatedAt: now, UpdatedAt: now, Contact: in.Contact, LookupHash: hash}
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
