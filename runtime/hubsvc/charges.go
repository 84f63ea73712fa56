package hubsvc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/store"
)

const dateLayout = "2006-01-02"

// World is the hub world of the gateway's records (package hubs' input):
// the forecasts, the orders with their deliveries, the installations and
// commissionings read from the inventory, the removals, and for each month
// from the first delivery to the current one the Smart Metering Systems
// Enrolled per Supplier (marketDay), and the invoices parties did not pay.
func (s *Service) World(ctx context.Context) (*hubs.World, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	st := s.cfg.Store
	fs, err := st.HubForecasts(ctx, "")
	if err != nil {
		return nil, err
	}
	os, err := st.HubOrders(ctx, "")
	if err != nil {
		return nil, err
	}
	hs, err := st.ListHubs(ctx, store.HubFilter{})
	if err != nil {
		return nil, err
	}
	ds, err := st.HubDefaults(ctx)
	if err != nil {
		return nil, err
	}
	w := &hubs.World{}
	for _, d := range ds {
		w.Defaults = append(w.Defaults, hubs.Default{Party: d.Party, Month: d.Month, Invoice: d.Invoice})
	}
	for _, f := range fs {
		w.Forecasts = append(w.Forecasts, hubs.Forecast{Supplier: f.Supplier, Month: f.Month, Variant: f.Variant, Quantity: f.Quantity})
	}
	byOrder := map[string][]store.Hub{}
	for _, h := range hs {
		byOrder[h.Order] = append(byOrder[h.Order], h)
		if !h.InstalledAt.IsZero() {
			in := hubs.Install{Hub: h.ID, Supplier: h.Installer, InstalledOn: day(h.InstalledAt), Premises: h.Premises}
			if !h.CommissionedAt.IsZero() {
				in.CommissionedOn = day(h.CommissionedAt)
			}
			w.Installs = append(w.Installs, in)
		}
		if !h.RemovedAt.IsZero() {
			w.Removals = append(w.Removals, hubs.Removal{Hub: h.ID, Supplier: h.RemovedBy, Date: day(h.RemovedAt), Reason: h.RemovalReason,
				ReplacementVariant: h.ReplacementVariant, CSPRequested: h.CSPRequested, RefreshProgramme: h.RefreshProgramme})
		}
	}
	var first hubs.Month
	for _, o := range os {
		ho := hubs.Order{ID: o.ID, Supplier: o.Supplier, Region: o.Region, Tranche: o.Tranche, OrderedOn: day(o.OrderedAt),
			FreeReplacement: o.FreeReplacement}
		for _, l := range o.Lines {
			ho.Lines = append(ho.Lines, hubs.OrderLine{Variant: l.Variant, Quantity: l.Quantity})
		}
		// The order's hubs by the day each was delivered: one delivery,
		// or the parts of an order delivered in parts.
		var parts []hubs.Delivery
		for _, h := range byOrder[o.ID] {
			at := day(h.DeliveredAt)
			k := slices.IndexFunc(parts, func(d hubs.Delivery) bool { return d.Date == at })
			if k < 0 {
				k, parts = len(parts), append(parts, hubs.Delivery{Date: at})
			}
			parts[k].Hubs = append(parts[k].Hubs, hubs.DeliveredHub{ID: h.ID, Variant: h.Variant})
			if m := hubs.MonthOf(h.DeliveredAt); first.IsZero() || m.Before(first) {
				first = m
			}
		}
		slices.SortStableFunc(parts, func(a, b hubs.Delivery) int { return strings.Compare(a.Date, b.Date) })
		switch {
		case len(parts) == 1:
			ho.Delivery = &parts[0]
		case len(parts) > 1:
			ho.Deliveries = parts
		}
		w.Orders = append(w.Orders, ho)
	}
	if first.IsZero() {
		return w, nil
	}
	suppliers, err := s.suppliers(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for m := first; !hubs.MonthOf(now).Before(m); m = m.Add(1) {
		counts, err := s.enrolledIn(ctx, m, now)
		if err != nil {
			return nil, err
		}
		mk := hubs.Market{Month: m.String(), Enrolled: map[string]int64{}}
		for u, n := range counts {
			if suppliers[u] && n > 0 {
				mk.Enrolled[u] = int64(n)
			}
		}
		w.Market = append(w.Market, mk)
	}
	return w, nil
}

func day(t time.Time) string { return t.UTC().Format(dateLayout) }

// suppliers are the users in a Supplier role: the parties market shares
// are of.
func (s *Service) suppliers(ctx context.Context) (map[string]bool, error) {
	us, err := s.cfg.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, u := range us {
		if r := s.cfg.Spec.Role(u.Role); r != nil && r.Kind == "supplier" {
			out[u.ID] = true
		}
	}
	return out, nil
}

// marketDay is the day of the month whose count of enrolled systems gives
// the month's market shares: the 15th, the day the gateway's reports read
// the count (para 408).
const marketDay = 15

// enrolledIn is the count of enrolled systems per user for month m: the
// snapshot the gateway recorded on the market day, or else the count from
// the inventory with the Registration Data in effect at the end of that
// day (or now, if earlier).
func (s *Service) enrolledIn(ctx context.Context, m hubs.Month, now time.Time) (map[string]int, error) {
	d := time.Date(m.Year, m.Mon, marketDay, 0, 0, 0, 0, time.UTC)
	counts, ok, err := s.cfg.Store.EnrolmentCounts(ctx, d)
	if err != nil || ok {
		return counts, err
	}
	at := d.Add(24*time.Hour - time.Nanosecond)
	if now.Before(at) {
		at = now
	}
	return s.cfg.Enrolled(ctx, at)
}

// Statement is a month's charges as the gateway's records give them.
// Provisional is set for a month not yet ended on the clock.
type Statement struct {
	*hubs.Statement
	Provisional bool `json:"provisional"`
}

// Statement computes the whole statement of a month (every party's; the
// DCC's view).
func (s *Service) Statement(ctx context.Context, m hubs.Month) (*Statement, error) {
	if err := CheckMonth(m); err != nil {
		return nil, err
	}
	w, err := s.World(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.engine()
	if err != nil {
		return nil, err
	}
	b, err := e.Open(ctx, w)
	if err != nil {
		return nil, err
	}
	st, err := b.Charges(m, s.now())
	prov := errors.Is(err, hubs.ErrMonthOpen)
	if prov {
		st, err = b.Statement(m)
	}
	if err != nil {
		return nil, err
	}
	return &Statement{Statement: st, Provisional: prov}, nil
}

// Charges is the caller's own part of a month's statement: its invoices,
// its shares of the smeared pools, its removals and fault compensation.
// A line smeared across Suppliers, and a pool, names only the caller's own
// hubs (its amount and the pool's total are whole): other Suppliers' hubs
// are theirs to see.
func (s *Service) Charges(ctx context.Context, caller string, m hubs.Month) (*Statement, error) {
	full, err := s.Statement(ctx, m)
	if err != nil {
		return nil, err
	}
	hs, err := s.cfg.Store.ListHubs(ctx, store.HubFilter{})
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, h := range hs {
		if h.Supplier == caller || h.Installer == caller || h.RemovedBy == caller {
			own[h.ID] = true
		}
	}
	return &Statement{Statement: ownView(full.ForParty(caller), own), Provisional: full.Provisional}, nil
}

// ownView copies a party's statement keeping only its own hubs in lines,
// pools and fault assessments.
func ownView(st *hubs.Statement, own map[string]bool) *hubs.Statement {
	keepIDs := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if own[id] {
				out = append(out, id)
			}
		}
		return out
	}
	keepItems := func(its []hubs.Item) []hubs.Item {
		var out []hubs.Item
		for _, it := range its {
			if it.Hub == "" || own[it.Hub] {
				out = append(out, it)
			}
		}
		return out
	}
	out := *st
	out.Invoices = nil
	for _, inv := range st.Invoices {
		ci := *inv
		ci.Lines = nil
		for _, l := range inv.Lines {
			cl := *l
			cl.Hubs, cl.Items = keepIDs(l.Hubs), keepItems(l.Items)
			ci.Lines = append(ci.Lines, &cl)
		}
		out.Invoices = append(out.Invoices, &ci)
	}
	out.Pools = nil
	for _, p := range st.Pools {
		cp := *p
		cp.Items = keepItems(p.Items)
		out.Pools = append(out.Pools, &cp)
	}
	out.TypeFaults = slices.Clone(st.TypeFaults)
	for i := range out.TypeFaults {
		out.TypeFaults[i].FaultHubs = keepIDs(out.TypeFaults[i].FaultHubs)
	}
	out.BatchFaults = slices.Clone(st.BatchFaults)
	for i := range out.BatchFaults {
		out.BatchFaults[i].FaultHubs = keepIDs(out.BatchFaults[i].FaultHubs)
	}
	return &out
}
