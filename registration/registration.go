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
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
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
}

// New returns the service. st must implement store.Reporting (the SQL
// stores do; pass the store itself, not a wrapper of it).
func New(st store.Store, sp *spec.Spec, clk clock.Clock) (*Service, error) {
	rep, ok := st.(store.Reporting)
	if !ok {
		return nil, fmt.Errorf("registration: store %T does not implement store.Reporting", st)
	}
	s := &Service{st: st, rep: rep, sp: sp, rd: sp.RegistrationData, clk: clk,
		patterns: map[string]*regexp.Regexp{}, fuelPat: map[string]*regexp.Regexp{}, colFuels: map[string][]string{}}
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

// id makes an identifier unique in this process and, with the time, across
// processes in practice.
func (s *Service) id(prefix string, at time.Time) string {
	return fmt.Sprintf("%s-%s-%d", prefix, at.UTC().Format("20060102T150405.000000000Z"), s.seq.Add(1))
}

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

// RequestRefresh asks an RDP for a data refresh (para 89): a full file, due
// within the spec's refresh_within (two calendar days, para 91).
// networkOperator and fuel narrow it ("" for all the RDP serves).
func (s *Service) RequestRefresh(ctx context.Context, rdp, networkOperator, fuel string) (store.RefreshRequest, error) {
	if _, err := s.CheckRDP(ctx, rdp); err != nil {
		return store.RefreshRequest{}, err
	}
	if fuel != "" {
		if _, ok := s.rd.Fuels[fuel]; !ok {
			return store.RefreshRequest{}, fmt.Errorf("registration: unknown fuel %q", fuel)
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
			return store.RefreshRequest{}, fmt.Errorf("registration: network operator %s provides %s data, not %s", networkOperator, nf, fuel)
		}
		fuel = nf
	}
	r := store.RefreshRequest{ID: s.id("R", now), RDP: rdp, NetworkOperator: networkOperator, Fuel: fuel,
		RequestedAt: now, DueAt: now.Add(s.rd.RefreshWithin.Std())}
	return r, s.rep.PutRefreshRequest(ctx, r)
}

// fuelOf is the fuel of a network operator's Registration Data: its role's.
func (s *Service) fuelOf(ctx context.Context, networkOperator string) (string, error) {
	u, err := s.st.GetUser(ctx, networkOperator)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("registration: %s is not a network operator known to the DCC", networkOperator)
	}
	if err != nil {
		return "", err
	}
	role := s.sp.Role(u.Role)
	if role == nil || role.Kind != "network_operator" || role.Registration == nil {
		return "", fmt.Errorf("registration: %s is not a network operator (role %s)", networkOperator, u.Role)
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
