// Package registration is the Registration Data Interface (chapter 4, para
// 74-91): Registration Data Providers (RDPs) that Network Operators
// nominate, the full and incremental files they send (docs/registration.md),
// applied whole or not at all, the registration data incidents a file or its
// absence raises (para 87), the master while data disagree (para 89) and the
// data refreshes the DCC asks for, due within the spec's period (para 90-91).
//
// Records are kept by effective date, so the gateway's checks ask which
// supplier is registered on a date (store.Store.Registrations).
package registration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Incident kinds (spec registration_data.incident_kinds).
const (
	IncidentNotReceived   = "not_received"
	IncidentNotConforming = "not_conforming"
	IncidentRejected      = "rejected"
	IncidentErrors        = "errors"
	IncidentMisaligned    = "misaligned"
)

// File states.
const (
	StateApplied  = "applied"
	StateRejected = "rejected"
)

// RDPOrgUnit is the organizational unit of an RDP's client certificate.
const RDPOrgUnit = "RDP"

// Errors of the service's own calls.
var (
	// ErrUnknownRDP: the caller or the named RDP is not registered.
	ErrUnknownRDP = errors.New("registration: unknown RDP")
	// ErrNotNetworkOperator: only a network operator nominates an RDP.
	ErrNotNetworkOperator = errors.New("registration: only a network operator (a user whose role is named as network_operator by Registration Data) nominates an RDP")
)

// Service runs the Registration Data Interface over a store.
type Service struct {
	st  store.Store
	rep store.Reporting
	sp  *spec.Spec
	rd  spec.RegistrationData
	clk clock.Clock

	columns  []string
	patterns map[string]*regexp.Regexp // column -> pattern
	fuelPat  map[string]*regexp.Regexp // fuel -> MPxN pattern
	colFuels map[string][]string
	required []string

	seq atomic.Uint64
	// random makes the suffix of IDs (crypto/rand.Reader; tests replace it).
	random io.Reader
}

// New returns the service. st must implement store.Reporting (the SQL
// stores do; pass the store itself, not a wrapper of it).
func New(st store.Store, sp *spec.Spec, clk clock.Clock) (*Service, error) {
	rep, ok := st.(store.Reporting)
	if !ok {
		return nil, fmt.Errorf("registration: store %T does not implement store.Reporting", st)
	}
	s := &Service{st: st, rep: rep, sp: sp, rd: sp.RegistrationData, clk: clk,
		patterns: map[string]*regexp.Regexp{}, fuelPat: map[string]*regexp.Regexp{}, colFuels: map[string][]string{},
		random: rand.Reader}
	for _, c := range s.rd.Columns {
		s.columns = append(s.columns, c.Name)
		if c.Required {
			s.required = append(s.required, c.Name)
		}
		if c.Pattern != "" {
			re, err := regexp.Compile(c.Pattern)
			if err != nil {
				return nil, fmt.Errorf("registration: spec column %s pattern: %w", c.Name, err)
			}
			s.patterns[c.Name] = re
		}
		if len(c.Fuels) > 0 {
			s.colFuels[c.Name] = c.Fuels
		}
	}
	for fuel, f := range s.rd.Fuels {
		re, err := regexp.Compile(f.Pattern)
		if err != nil {
			return nil, fmt.Errorf("registration: spec fuel %s pattern: %w", fuel, err)
		}
		s.fuelPat[fuel] = re
	}
	for _, need := range []string{"mpxn", "effective_from", "network_operator"} {
		if !slices.Contains(s.columns, need) {
			return nil, fmt.Errorf("registration: the spec's columns lack %s", need)
		}
	}
	return s, nil
}

// Columns are the file columns in the spec's order.
func (s *Service) Columns() []string { return slices.Clone(s.columns) }

// Reporting is the store's reporting side.
func (s *Service) Reporting() store.Reporting { return s.rep }

// idRandomBytes is the length of an ID's random suffix: 40 bits.
const idRandomBytes = 5

// id makes the identifier of a file, incident or refresh request:
// PREFIX-TIME-COUNTER-RANDOM, such as
// F-20260206T100000.000000000Z-000001-3f9a2c1b7e. The time (the clock's,
// to the nanosecond) and the counter (of this Service, zero padded) keep
// IDs readable and sorted by time, and by creation within a process; the
// random suffix keeps them unique across processes and restarts, whose
// counters all start again at 1 and whose clocks may agree (two commands
// run with the same --at).
func (s *Service) id(prefix string, at time.Time) string {
	var b [idRandomBytes]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		// crypto/rand does not fail; a reader that does still leaves
		// the time and the counter.
		clear(b[:])
	}
	return fmt.Sprintf("%s-%s-%06d-%s", prefix, at.UTC().Format("20060102T150405.000000000Z"), s.seq.Add(1), hex.EncodeToString(b[:]))
}

// idAttempts bounds how often a record is written again under a new ID
// when its ID is taken (so a record is not lost to the astronomically
// unlikely collision of two IDs).
const idAttempts = 3

// AddRDP registers (or updates) an RDP.
func (s *Service) AddRDP(ctx context.Context, id, name, certPEM string) (store.RDP, error) {
	if !s.patterns["network_operator"].MatchString(id) {
		return store.RDP{}, fmt.Errorf("registration: RDP ID %q is not an EUI-64", id)
	}
	r := store.RDP{ID: id, Name: name, CertPEM: certPEM, CreatedAt: s.clk.Now()}
	if old, err := s.rep.GetRDP(ctx, id); err == nil {
		r.CreatedAt = old.CreatedAt
		if certPEM == "" {
			r.CertPEM = old.CertPEM
		}
	}
	return r, s.rep.PutRDP(ctx, r)
}

// CheckRDP returns the RDP a caller authenticated as, or ErrUnknownRDP.
func (s *Service) CheckRDP(ctx context.Context, id string) (store.RDP, error) {
	r, err := s.rep.GetRDP(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.RDP{}, fmt.Errorf("%w %s", ErrUnknownRDP, id)
	}
	return r, err
}

// networkFuel is the fuel of a network operator's role, or "" if the user
// is not a network operator.
func (s *Service) networkFuel(ctx context.Context, userID string) (string, error) {
	u, err := s.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	role := s.sp.Role(u.Role)
	if role == nil || role.Registration == nil || role.Registration.Field != "network_operator" {
		return "", nil
	}
	return role.Registration.Fuel, nil
}

// Nominate records that a network operator nominates an RDP from now on
// (para 84). The network operator must be a user whose role Registration
// Data names as network_operator; the RDP must be registered.
func (s *Service) Nominate(ctx context.Context, networkOperator, rdp string) (store.Nomination, error) {
	fuel, err := s.networkFuel(ctx, networkOperator)
	if err != nil {
		return store.Nomination{}, err
	}
	if fuel == "" {
		return store.Nomination{}, fmt.Errorf("%w: %s is not one", ErrNotNetworkOperator, networkOperator)
	}
	if _, err := s.CheckRDP(ctx, rdp); err != nil {
		return store.Nomination{}, err
	}
	n := store.Nomination{NetworkOperator: networkOperator, RDP: rdp, At: s.clk.Now()}
	return n, s.rep.PutNomination(ctx, n)
}

// nominations in force at time at: network operator -> RDP.
func (s *Service) nominations(ctx context.Context, at time.Time) (map[string]string, error) {
	all, err := s.rep.Nominations(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range all { // by network operator then time
		if !n.At.After(at) {
			out[n.NetworkOperator] = n.RDP
		}
	}
	return out, nil
}

// NetworksOf returns the network operators that nominate rdp at time at,
// sorted.
func (s *Service) NetworksOf(ctx context.Context, rdp string, at time.Time) ([]string, error) {
	noms, err := s.nominations(ctx, at)
	if err != nil {
		return nil, err
	}
	var out []string
	for no, r := range noms {
		if r == rdp {
			out = append(out, no)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Incidents lists registration data incidents.
func (s *Service) Incidents(ctx context.Context, f store.IncidentFilter) ([]store.RegistrationIncident, error) {
	return s.rep.RegistrationIncidents(ctx, f)
}

// Resolve marks an incident resolved now, with a note of how.
func (s *Service) Resolve(ctx context.Context, id, note string) error {
	return s.rep.ResolveRegistrationIncident(ctx, id, s.clk.Now(), note)
}

// Refresh is a refresh request with whether it is overdue now.
type Refresh struct {
	store.RefreshRequest
	Overdue bool
}

// Error is a refusal of the service's own calls with a stable code and the
// clause behind it (RequestRefresh).
type Error = spec.Refusal

// Refusal codes of RequestRefresh.
const (
	// RefuseNotNominated: the RDP asked is not nominated for what the
	// refresh asks: by the network operator named, by a network operator
	// of the fuel named, or by any network operator (para 84, 90-91).
	RefuseNotNominated = "not_nominated"
	// RefuseUnknownFuel: a fuel the spec's registration_data.fuels lacks.
	RefuseUnknownFuel = "unknown_fuel"
	// RefuseNotNetworkOperator: the network operator named is not one.
	RefuseNotNetworkOperator = "not_network_operator"
	// RefuseFuelMismatch: a fuel the network operator named does not
	// provide data of.
	RefuseFuelMismatch = "fuel_mismatch"
)

// refuse makes a refusal of RequestRefresh.
func (s *Service) refuse(code, clause, format string, args ...any) error {
	return &Error{Code: code, Clause: clause, Message: fmt.Sprintf(format, args...)}
}

// RequestRefresh asks an RDP for a data refresh (para 89): a full file, due
// within the spec's refresh_within (two calendar days, para 91).
// networkOperator and fuel narrow it ("" for all the RDP serves). Only an
// RDP nominated for what the refresh asks provides it (para 84): by the
// network operator named, else by a network operator of the fuel named,
// else by any; asked of another, it is refused with RefuseNotNominated
// naming the RDPs that are nominated, so that no RDP is later blamed for a
// refresh it cannot provide. Refusals are *Error; an RDP not registered is
// ErrUnknownRDP.
func (s *Service) RequestRefresh(ctx context.Context, rdp, networkOperator, fuel string) (store.RefreshRequest, error) {
	if _, err := s.CheckRDP(ctx, rdp); err != nil {
		return store.RefreshRequest{}, err
	}
	if fuel != "" {
		if _, ok := s.rd.Fuels[fuel]; !ok {
			return store.RefreshRequest{}, s.refuse(RefuseUnknownFuel, s.rd.Clause, "unknown fuel %q: the fuels are %s", fuel, strings.Join(s.fuels(), ", "))
		}
	}
	now := s.clk.Now()
	if networkOperator != "" {
		// A network operator's data is of its own fuel: a refresh for it
		// is answered by a full file of that fuel, whatever was asked.
		nf, err := s.fuelOf(ctx, networkOperator)
		if err != nil {
			return store.RefreshRequest{}, err
		}
		if fuel != "" && fuel != nf {
			return store.RefreshRequest{}, s.refuse(RefuseFuelMismatch, s.rd.RefreshClause, "network operator %s provides %s data, not %s", networkOperator, nf, fuel)
		}
		fuel = nf
	}
	if err := s.checkNominated(ctx, rdp, networkOperator, fuel, now); err != nil {
		return store.RefreshRequest{}, err
	}
	var err error
	for range idAttempts {
		r := store.RefreshRequest{ID: s.id("R", now), RDP: rdp, NetworkOperator: networkOperator, Fuel: fuel,
			RequestedAt: now, DueAt: now.Add(s.rd.RefreshWithin.Std())}
		if err = s.rep.PutRefreshRequest(ctx, r); !errors.Is(err, store.ErrDuplicate) {
			return r, err
		}
		// The ID is taken (the only key of a refresh request): another.
	}
	return store.RefreshRequest{}, err
}

// fuels are the spec's fuels, sorted.
func (s *Service) fuels() []string {
	out := make([]string, 0, len(s.rd.Fuels))
	for f := range s.rd.Fuels {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// checkNominated refuses a refresh of an RDP that is not nominated at time
// at for what it asks (para 84): by networkOperator if named, else by a
// network operator of fuel if named, else by any network operator. The
// refusal names who is nominated.
func (s *Service) checkNominated(ctx context.Context, rdp, networkOperator, fuel string, at time.Time) error {
	noms, err := s.nominations(ctx, at)
	if err != nil {
		return err
	}
	clause := s.rd.NominationClause + ", " + strings.TrimPrefix(s.rd.RefreshClause, "para ")
	if networkOperator != "" {
		switch got, ok := noms[networkOperator]; {
		case ok && got == rdp:
			return nil
		case ok:
			return s.refuse(RefuseNotNominated, clause, "network operator %s has nominated %s as its RDP, not %s: ask %s for its data refresh", networkOperator, got, rdp, got)
		default:
			return s.refuse(RefuseNotNominated, clause, "network operator %s has nominated no RDP, so no RDP provides its data (%s is not nominated by it)", networkOperator, rdp)
		}
	}
	// The nominations of the network operators of the fuel (all if "").
	var of []string // "NO nominates RDP", sorted
	nominated := false
	for no, r := range noms {
		if fuel != "" {
			nf, err := s.networkFuel(ctx, no)
			if err != nil {
				return err
			}
			if nf != fuel {
				continue
			}
		}
		if r == rdp {
			nominated = true
		}
		of = append(of, no+" nominates "+r)
	}
	if nominated {
		return nil
	}
	sort.Strings(of)
	what, who := "any network operator", "no network operator has nominated an RDP"
	if fuel != "" {
		what, who = "a "+fuel+" network operator", "no "+fuel+" network operator has nominated an RDP"
	}
	if len(of) > 0 {
		who = "nominated: " + strings.Join(of, ", ")
	}
	return s.refuse(RefuseNotNominated, clause, "%s is not nominated by %s, so it provides no such data to refresh (%s)", rdp, what, who)
}

// fuelOf is the fuel of a network operator's Registration Data: its role's.
func (s *Service) fuelOf(ctx context.Context, networkOperator string) (string, error) {
	u, err := s.st.GetUser(ctx, networkOperator)
	if errors.Is(err, store.ErrNotFound) {
		return "", s.refuse(RefuseNotNetworkOperator, s.rd.NominationClause, "%s is not a network operator known to the DCC", networkOperator)
	}
	if err != nil {
		return "", err
	}
	role := s.sp.Role(u.Role)
	if role == nil || role.Kind != "network_operator" || role.Registration == nil {
		return "", s.refuse(RefuseNotNetworkOperator, s.rd.NominationClause, "%s is not a network operator (role %s)", networkOperator, u.Role)
	}
	return role.Registration.Fuel, nil
}

// refreshFuels are the fuels whose full files answer a refresh: its own,
// or, asked of everything the RDP provides, the fuels of the network
// operators that nominate it.
func (s *Service) refreshFuels(ctx context.Context, r store.RefreshRequest, noms map[string]string) ([]string, error) {
	if r.Fuel != "" {
		return []string{r.Fuel}, nil
	}
	if r.NetworkOperator != "" {
		f, err := s.fuelOf(ctx, r.NetworkOperator)
		return []string{f}, err
	}
	var fuels []string
	for no, rdp := range noms {
		if rdp != r.RDP {
			continue
		}
		if f, err := s.fuelOf(ctx, no); err == nil && !slices.Contains(fuels, f) {
			fuels = append(fuels, f)
		}
	}
	return fuels, nil
}

// Refreshes lists an RDP's refresh requests ("" for all) with whether each
// is overdue now: not received by its due time.
func (s *Service) Refreshes(ctx context.Context, rdp string, openOnly bool) ([]Refresh, error) {
	rs, err := s.rep.RefreshRequests(ctx, rdp, openOnly)
	if err != nil {
		return nil, err
	}
	now := s.clk.Now()
	out := make([]Refresh, len(rs))
	for i, r := range rs {
		out[i] = Refresh{RefreshRequest: r, Overdue: overdue(r, now)}
	}
	return out, nil
}

// overdue: not received by its due time (received late counts too).
func overdue(r store.RefreshRequest, now time.Time) bool {
	if r.ReceivedAt.IsZero() {
		return now.After(r.DueAt)
	}
	return r.ReceivedAt.After(r.DueAt)
}
