package incidents_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// newDesk is a Service Desk over a store of its own with one DCC User
// (elec), on a virtual clock.
func newDesk(t *testing.T) (*incidents.Log, incidents.Store) {
	t.Helper()
	ctx := t.Context()
	raw, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := raw.(incidents.Store)
	if err := st.PutUser(ctx, store.User{ID: elec, Role: "EIS", Party: "Alpha", Entered: true}); err != nil {
		t.Fatal(err)
	}
	l, err := incidents.New(ctx, st, spec.MustDefault(), clock.NewVirtual(friday), nil)
	if err != nil {
		t.Fatal(err)
	}
	return l, st
}

func refusalCode(err error) string {
	var e *incidents.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestPublicTicketContactAndLimits: a SEC Party that is not a user gives a
// contact the Service Desk answers it at (para 254-255), an email address
// or a telephone number; every field of a ticket is bounded by the spec's
// ticket_max_chars, users' tickets too.
func TestPublicTicketContactAndLimits(t *testing.T) {
	l, _ := newDesk(t)
	rules, err := incidents.DeskRulesOf(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	m := rules.MaxChars
	long := func(n int) string { return strings.Repeat("é", n) } // characters, not bytes
	query := func(mod func(*incidents.TicketInput)) incidents.TicketInput {
		in := incidents.TicketInput{RaisedBy: "Prospective Energy Ltd", Party: "Prospective Energy Ltd", Kind: "general_query",
			Subject: "How do we become a user?", Contact: "desk@prospective.example"}
		mod(&in)
		return in
	}
	tests := []struct {
		note string
		in   incidents.TicketInput
		want string // the refusal's code; "" raised
	}{
		{"an email address", query(func(*incidents.TicketInput) {}), ""},
		{"a telephone number", query(func(in *incidents.TicketInput) { in.Contact = "+44 (0)20 7946-0000" }), ""},
		{"a contact with spaces around it", query(func(in *incidents.TicketInput) { in.Contact = "  020 7946 0000 " }), ""},
		{"no contact", query(func(in *incidents.TicketInput) { in.Contact = "" }), incidents.CodeInvalid},
		{"only spaces", query(func(in *incidents.TicketInput) { in.Contact = "   " }), incidents.CodeInvalid},
		{"neither email nor telephone", query(func(in *incidents.TicketInput) { in.Contact = "ask for Bob" }), incidents.CodeInvalid},
		{"too few digits", query(func(in *incidents.TicketInput) { in.Contact = "12 34" }), incidents.CodeInvalid},
		{"an email without a domain", query(func(in *incidents.TicketInput) { in.Contact = "desk@localhost" }), incidents.CodeInvalid},
		{"the longest subject", query(func(in *incidents.TicketInput) { in.Subject = long(m.Subject) }), ""},
		{"a subject too long", query(func(in *incidents.TicketInput) { in.Subject = long(m.Subject + 1) }), "TOO_LONG"},
		{"details too long", query(func(in *incidents.TicketInput) { in.Body = long(m.Body + 1) }), "TOO_LONG"},
		{"a party's name too long", query(func(in *incidents.TicketInput) { in.RaisedBy, in.Party = long(m.Party+1), long(m.Party+1) }), "TOO_LONG"},
		{"a contact too long", query(func(in *incidents.TicketInput) { in.Contact = long(m.Contact) + "@example.org" }), "TOO_LONG"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			tk, lookup, err := l.RaisePublicTicket(t.Context(), tc.in)
			if got := refusalCode(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("refusal %q (%v), want %q", got, err, tc.want)
			}
			if tc.want != "" {
				if lookup != "" {
					t.Fatalf("a refused ticket has a code %q", lookup)
				}
				return
			}
			if tk.Contact != strings.TrimSpace(tc.in.Contact) || tk.IsUser || lookup == "" || tk.LookupHash == "" || strings.Contains(tk.LookupHash, lookup) {
				t.Fatalf("ticket %+v, code %q", tk, lookup)
			}
		})
	}
	// A user's ticket needs no contact (the user follows it in the SSI),
	// but its fields are bounded as well.
	if _, err := l.RaiseTicket(t.Context(), incidents.TicketInput{RaisedBy: elec, Kind: "incident_query", Subject: "meters silent"}); err != nil {
		t.Fatalf("a user's ticket without a contact: %v", err)
	}
	if _, err := l.RaiseTicket(t.Context(), incidents.TicketInput{RaisedBy: elec, Kind: "incident_query", Subject: "x", Body: long(m.Body + 1)}); refusalCode(err) != "TOO_LONG" {
		t.Fatalf("a user's ticket too long: %v", err)
	}
}

// TestLookupTicket: the raiser of a public ticket sees its status and the
// Service Desk's answer with the ticket's reference and the code it was
// given; a wrong code, or a ticket that has none, is not found.
func TestLookupTicket(t *testing.T) {
	l, st := newDesk(t)
	ctx := t.Context()
	tk, lookup, err := l.RaisePublicTicket(ctx, incidents.TicketInput{RaisedBy: "Prospective Energy Ltd", Kind: "general_query",
		Subject: "How do we become a user?", Contact: "desk@prospective.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AnswerTicket(ctx, incidents.DCC, tk.ID, "Through User Entry (Section H1)."); err != nil {
		t.Fatal(err)
	}
	mine, err := l.RaiseTicket(ctx, incidents.TicketInput{RaisedBy: elec, Kind: "general_query", Subject: "guides?"})
	if err != nil {
		t.Fatal(err)
	}
	other, otherCode, err := l.RaisePublicTicket(ctx, incidents.TicketInput{RaisedBy: "Another Party", Kind: "general_query", Subject: "x", Contact: "020 7946 0001"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetTicket(ctx, tk.ID)
	if err != nil || stored.LookupHash == "" || strings.Contains(stored.LookupHash, strings.ReplaceAll(lookup, "-", "")) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	tests := []struct {
		note, id, code string
		found          bool
	}{
		{"the reference and its code", tk.ID, lookup, true},
		{"the code in small letters, without hyphens", tk.ID, strings.ToLower(strings.ReplaceAll(lookup, "-", "")), true},
		{"the code with spaces around", " " + tk.ID + " ", " " + lookup + " ", true},
		{"another ticket's code", tk.ID, otherCode, false},
		{"no code", tk.ID, "", false},
		{"a user's ticket, which has no code", mine.ID, "", false},
		{"a user's ticket with a public ticket's code", mine.ID, lookup, false},
		{"no such ticket", "TKT-none", lookup, false},
		{"the other ticket with its own code", other.ID, otherCode, true},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := l.LookupTicket(ctx, tc.id, tc.code)
			if !tc.found {
				if refusalCode(err) != incidents.CodeNotFound || got.ID != "" {
					t.Fatalf("found %+v (%v)", got, err)
				}
				return
			}
			if err != nil || got.ID != strings.TrimSpace(tc.id) {
				t.Fatalf("%+v %v", got, err)
			}
			if got.ID == tk.ID && (got.Status != incidents.TicketAnswered || got.Answer != "Through User Entry (Section H1).") {
				t.Fatalf("the answer is not shown: %+v", got)
			}
		})
	}
}
