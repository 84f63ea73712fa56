// Package hubsvc runs the Communications Hubs of chapter 7 in the gateway:
// Suppliers forecast and order hubs (one line per HAN variant), the DCC
// records each order's delivery (its date and the hubs' Device IDs, kept
// as a batch), a delivered hub's CHF joins the Smart Metering Inventory,
// its installation and commissioning are read from the inventory's CHF
// status (a CHF is commissioned when it joins the SMWAN, para 185), and a
// Supplier records a hub's removal with a reason. The month's charges are
// computed by package hubs from these records, with market shares from
// the gateway's enrolled Smart Metering Systems; who pays is the hubs
// policy, every number the spec.
package hubsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Error is a refusal with a stable code.
type Error = spec.Coded

// Codes of Error.
const (
	CodeNotFound     = "not_found"     // no such order or hub, or not the caller's
	CodeNotPermitted = "not_permitted" // the caller is not a Supplier, or not one the hub concerns
	CodeInvalid      = "invalid"       // a field the spec does not allow
	CodeConflict     = "conflict"      // delivered or removed already, a Device ID already used
	// CodeQuantity: an order line of no hubs, or lines adding up to more
	// hubs than an int counts (para 320-322).
	CodeQuantity = "quantity_invalid"
	// CodeRegion: an order names no CSP region, or one that is not (para
	// 18, spec hubs.regions).
	CodeRegion = "region_invalid"
	// CodeMonthPassed: a forecast of a month that has passed: a forecast
	// is of the hubs a Supplier will order (para 290).
	CodeMonthPassed = "month_passed"
	// CodeMonthOutOfRange: a statement or an unpaid invoice of a month
	// whose times the store cannot hold (Months); the code the reports
	// refuse such a month with.
	CodeMonthOutOfRange = reports.CodeMonthOutOfRange
	// CodeNothingOwed: an unpaid invoice recorded of a party that owed
	// nothing on it that month (no invoice, or one of £0 or a credit).
	CodeNothingOwed = "nothing_owed"
)

// HTTPStatus is the status the hubs API and the SSI's hub forms answer a
// refusal with code with: one table, so the two never differ.
func HTTPStatus(code string) int {
	switch code {
	case CodeMonthOutOfRange:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeNotPermitted:
		return http.StatusForbidden
	case CodeConflict:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// Months returns the first and the last month a statement may be of: the
// months whose every time the store holds (store.MinTime to
// store.MaxTime), 1677-10 to 2262-03.
func Months() (first, last hubs.Month) {
	first, last = hubs.MonthOf(store.MinTime), hubs.MonthOf(store.MaxTime)
	if first.Start().Before(store.MinTime) {
		first = first.Add(1)
	}
	if last.End().After(store.MaxTime) {
		last = last.Add(-1)
	}
	return first, last
}

// CheckMonth refuses a month out of Months with CodeMonthOutOfRange,
// naming the range.
func CheckMonth(m hubs.Month) error {
	first, last := Months()
	if m.Before(first) || last.Before(m) {
		return errf(CodeMonthOutOfRange, "month %s: charges are of a month from %s to %s, the months whose times the store holds", m, first, last)
	}
	return nil
}

func errf(code, format string, a ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Store is what the service needs of the gateway's store.
type Store interface {
	store.Store
	store.Hubs
	store.Reporting
}

// Config configures a Service.
type Config struct {
	Store Store
	Spec  *spec.Spec
	// Clock tells the time (the gateway's clock).
	Clock interface{ Now() time.Time }
	// Engine charges by the spec and the hubs policy; if nil, one over
	// Spec and the embedded policy is compiled on first use.
	Engine *hubs.Engine
	// Enrolled counts the Smart Metering Systems Enrolled per user named
	// by the Registration Data in effect at a time (reports.CountEnrolled).
	Enrolled func(ctx context.Context, at time.Time) (map[string]int, error)
	// Emulate, if set, puts a delivered hub's CHF in the emulated fleet
	// (gateway.Emulate), so that it can join the SMWAN.
	Emulate func(ctx context.Context, id string) error
}

// Service is the Communications Hubs of a running gateway. It is safe for
// concurrent use.
type Service struct {
	cfg    Config
	engine func() (*hubs.Engine, error)
}

// New returns the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Spec == nil || cfg.Clock == nil || cfg.Enrolled == nil {
		return nil, errors.New("hubsvc: Store, Spec, Clock and Enrolled are required")
	}
	for _, ev := range []string{"delivered", "installed", "commissioned", "removed"} {
		if cfg.Spec.Hubs.Lifecycle[ev] == "" {
			return nil, fmt.Errorf("hubsvc: spec hubs.lifecycle lacks %q", ev)
		}
	}
	if len(cfg.Spec.Hubs.Regions.Areas) == 0 {
		return nil, errors.New("hubsvc: spec hubs.regions names no region")
	}
	s := &Service{cfg: cfg}
	if cfg.Engine != nil {
		s.engine = func() (*hubs.Engine, error) { return cfg.Engine, nil }
	} else {
		s.engine = sync.OnceValues(func() (*hubs.Engine, error) { return hubs.New(context.Background(), cfg.Spec) })
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now() }

// supplier checks that the caller is a user in a Supplier role.
func (s *Service) supplier(ctx context.Context, caller string) error {
	u, err := s.cfg.Store.GetUser(ctx, caller)
	if errors.Is(err, store.ErrNotFound) {
		return errf(CodeNotPermitted, "%s is not a DCC User", caller)
	}
	if err != nil {
		return err
	}
	if r := s.cfg.Spec.Role(u.Role); r == nil || r.Kind != "supplier" {
		return errf(CodeNotPermitted, "only Suppliers forecast, order and remove Communications Hubs (para 290, 333); %s is %s", caller, u.Role)
	}
	return nil
}

// MayOrder is nil if the caller may forecast and order hubs, else the
// refusal Forecast and Order give it (CodeNotPermitted, saying why): the
// same check, for a front end that offers the forms only to those who may
// use them (the SSI).
func (s *Service) MayOrder(ctx context.Context, caller string) error {
	return s.supplier(ctx, caller)
}

// ------------------------------------------------------------ forecasts

// Forecast files the caller's forecast of the hubs of a HAN variant it
// will order in a month, replacing an earlier one (para 290).
func (s *Service) Forecast(ctx context.Context, caller string, f store.HubForecast) (store.HubForecast, error) {
	if err := s.supplier(ctx, caller); err != nil {
		return f, err
	}
	m, err := hubs.ParseMonth(f.Month)
	if err != nil {
		return f, errf(CodeInvalid, "%v", err)
	}
	if now := hubs.MonthOf(s.now()); m.Before(now) {
		return f, errf(CodeMonthPassed, "month %s has passed (it is %s): a forecast is of the hubs a Supplier will order, in %s or a month after (para 290)", m, now, now)
	}
	if _, ok := s.cfg.Spec.Hubs.HANVariants[f.Variant]; !ok {
		return f, errf(CodeInvalid, "unknown HAN variant %q", f.Variant)
	}
	if f.Quantity < 0 {
		return f, errf(CodeInvalid, "quantity %d", f.Quantity)
	}
	f.Supplier, f.FiledAt = caller, s.now()
	return f, s.cfg.Store.PutHubForecast(ctx, f)
}

// Forecasts lists the caller's forecasts.
func (s *Service) Forecasts(ctx context.Context, caller string) ([]store.HubForecast, error) {
	return s.cfg.Store.HubForecasts(ctx, caller)
}

// --------------------------------------------------------------- orders

// OrderInput is a Supplier's order.
type OrderInput struct {
	// ID, if empty, is assigned.
	ID      string
	Region  string
	Tranche string
	Lines   []store.HubOrderLine
}

// Order places the caller's order today.
func (s *Service) Order(ctx context.Context, caller string, in OrderInput) (store.HubOrder, error) {
	if err := s.supplier(ctx, caller); err != nil {
		return store.HubOrder{}, err
	}
	hc := &s.cfg.Spec.Hubs
	if in.Tranche != "" {
		if _, ok := hc.Tranches[in.Tranche]; !ok {
			return store.HubOrder{}, errf(CodeInvalid, "unknown tranche %q", in.Tranche)
		}
	}
	regions := s.cfg.Spec.Hubs.Regions
	if _, ok := regions.Areas[in.Region]; !ok {
		what := fmt.Sprintf("unknown region %q", in.Region)
		if in.Region == "" {
			what = "no region"
		}
		return store.HubOrder{}, errf(CodeRegion, "%s: an order names the CSP region its hubs are for, one of %s (%s)",
			what, strings.Join(regions.Names(), ", "), regions.Clause)
	}
	if len(in.Lines) == 0 {
		return store.HubOrder{}, errf(CodeInvalid, "an order needs at least one line")
	}
	total := 0
	for i, l := range in.Lines {
		if _, ok := hc.HANVariants[l.Variant]; !ok {
			return store.HubOrder{}, errf(CodeInvalid, "lines[%d]: unknown HAN variant %q", i, l.Variant)
		}
		var err error
		if total, err = hubs.AddQuantity(total, l.Quantity); err != nil {
			return store.HubOrder{}, errf(CodeQuantity, "lines[%d]: %v (para 320-322)", i, err)
		}
	}
	id := in.ID
	if id == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return store.HubOrder{}, err
		}
		id = "HO-" + hex.EncodeToString(b[:])
	}
	o := store.HubOrder{ID: id, Supplier: caller, Region: in.Region, Tranche: in.Tranche, Lines: in.Lines, OrderedAt: s.now()}
	if err := s.cfg.Store.InsertHubOrder(ctx, o); errors.Is(err, store.ErrDuplicate) {
		return o, errf(CodeConflict, "order %s exists", id)
	} else if err != nil {
		return o, err
	}
	return o, nil
}

// OrderView is an order with the hubs delivered for it.
type OrderView struct {
	store.HubOrder
	Hubs []store.Hub `json:"hubs"`
}

// Orders lists the caller's orders with their hubs.
func (s *Service) Orders(ctx context.Context, caller string) ([]OrderView, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	os, err := s.cfg.Store.HubOrders(ctx, caller)
	if err != nil {
		return nil, err
	}
	hs, err := s.cfg.Store.ListHubs(ctx, store.HubFilter{Supplier: caller})
	if err != nil {
		return nil, err
	}
	out := make([]OrderView, len(os))
	for i, o := range os {
		out[i].HubOrder = o
		for _, h := range hs {
			if h.Order == o.ID {
				out[i].Hubs = append(out[i].Hubs, h)
			}
		}
	}
	return out, nil
}

// GetOrder returns one of the caller's orders; another's is not found.
func (s *Service) GetOrder(ctx context.Context, caller, id string) (OrderView, error) {
	os, err := s.Orders(ctx, caller)
	if err != nil {
		return OrderView{}, err
	}
	for _, o := range os {
		if o.ID == id {
			return o, nil
		}
	}
	return OrderView{}, errf(CodeNotFound, "no order %s of %s", id, caller)
}

// DeliveredHub is one hub of a delivery.
type DeliveredHub struct {
	ID      string `json:"id"`
	Variant string `json:"variant"`
}

// Deliver records the DCC's delivery of an order today, the whole of it
// or a part: the hubs are kept in the order's batch and each hub's CHF
// joins the inventory with the status of spec hubs.lifecycle.delivered.
// No more hubs of a variant than ordered may be delivered, counting those
// delivered for the order before, and none once all are.
func (s *Service) Deliver(ctx context.Context, order string, delivered []DeliveredHub) (store.HubOrder, error) {
	o, err := s.cfg.Store.GetHubOrder(ctx, order)
	if errors.Is(err, store.ErrNotFound) {
		return o, errf(CodeNotFound, "no order %s", order)
	}
	if err != nil {
		return o, err
	}
	if len(delivered) == 0 {
		return o, errf(CodeInvalid, "a delivery needs at least one hub")
	}
	ordered, got := map[string]int{}, map[string]int{}
	total := 0
	for i, l := range o.Lines {
		// Orders placed before Order checked their quantities may hold
		// lines that do not add up.
		if total, err = hubs.AddQuantity(total, l.Quantity); err != nil {
			return o, errf(CodeQuantity, "order %s lines[%d]: %v (para 320-322): it cannot be delivered", order, i, err)
		}
		ordered[l.Variant] += l.Quantity
	}
	before, err := s.cfg.Store.ListHubs(ctx, store.HubFilter{Order: order})
	if err != nil {
		return o, err
	}
	if len(before) >= total {
		return o, errf(CodeConflict, "order %s is delivered: all its %d hubs", order, total)
	}
	for _, h := range before {
		got[h.Variant]++
	}
	seen := map[string]bool{}
	hs := make([]store.Hub, len(delivered))
	for i, d := range delivered {
		if d.ID == "" || seen[d.ID] {
			return o, errf(CodeInvalid, "hubs[%d]: Device ID %q is empty or repeated", i, d.ID)
		}
		seen[d.ID] = true
		got[d.Variant]++
		if got[d.Variant] > ordered[d.Variant] {
			return o, errf(CodeInvalid, "more hubs of variant %q delivered than the %d ordered (%d delivered before)",
				d.Variant, ordered[d.Variant], countVariant(before, d.Variant))
		}
		hs[i] = store.Hub{ID: d.ID, Variant: d.Variant}
	}
	at := s.now()
	switch err := s.cfg.Store.DeliverHubOrder(ctx, order, at, hs, s.cfg.Spec.Hubs.Lifecycle["delivered"]); {
	case errors.Is(err, store.ErrStale):
		// Another delivery of the order came meanwhile (another process).
		return o, errf(CodeConflict, "order %s: %v", order, err)
	case errors.Is(err, store.ErrDuplicate):
		return o, errf(CodeConflict, "a hub of the delivery is already a hub or on the inventory")
	case err != nil:
		return o, err
	}
	if s.cfg.Emulate != nil {
		for _, h := range hs {
			if err := s.cfg.Emulate(ctx, h.ID); err != nil {
				return o, err
			}
		}
	}
	if len(before)+len(hs) >= total {
		o.DeliveredAt = at // the last part: the order is delivered
	}
	return o, nil
}

// ----------------------------------------------------------------- hubs

// Sync reads each hub's installation and commissioning from its CHF's
// status on the inventory: a CHF at spec hubs.lifecycle.installed was
// installed, one at lifecycle.commissioned installed and commissioned, at
// the time of its last status change. Installer is the Supplier that
// received it unless the Registration Data names other Suppliers for the
// meters on the hub (then the first of those by ID). It
// is idempotent (times once set are kept); the service calls it before it
// reads hubs, and before a removal.
func (s *Service) Sync(ctx context.Context) error {
	hs, err := s.cfg.Store.ListHubs(ctx, store.HubFilter{})
	if err != nil {
		return err
	}
	lc := s.cfg.Spec.Hubs.Lifecycle
	for _, h := range hs {
		if !h.RemovedAt.IsZero() || !h.CommissionedAt.IsZero() {
			continue
		}
		d, err := s.cfg.Store.GetDevice(ctx, h.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		var inst, comm time.Time
		switch d.Status {
		case lc["installed"]:
			inst = d.UpdatedAt
		case lc["commissioned"]:
			inst, comm = d.UpdatedAt, d.UpdatedAt
		default:
			continue
		}
		if !h.InstalledAt.IsZero() && comm.IsZero() {
			continue
		}
		installer := h.Supplier
		if sup, err := s.suppliersOf(ctx, h.ID, d.UpdatedAt); err != nil {
			return err
		} else if len(sup) > 0 && !slices.Contains(sup, installer) {
			installer = sup[0]
		}
		if err := s.cfg.Store.RecordHubInstalled(ctx, h.ID, inst, comm, installer, ""); err != nil && !errors.Is(err, store.ErrStale) {
			return err
		}
	}
	return nil
}

// suppliersOf returns the Suppliers the Registration Data in effect at a
// time names for the meters on a hub, sorted.
func (s *Service) suppliersOf(ctx context.Context, hub string, at time.Time) ([]string, error) {
	devs, err := s.cfg.Store.Devices(ctx, store.DeviceFilter{CHF: hub})
	if err != nil {
		return nil, err
	}
	var mpxns []string
	for _, d := range devs {
		if d.MPxN != "" && !slices.Contains(mpxns, d.MPxN) {
			mpxns = append(mpxns, d.MPxN)
		}
	}
	if len(mpxns) == 0 {
		return nil, nil
	}
	regs, err := s.cfg.Store.Registrations(ctx, mpxns, at)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range regs {
		for _, who := range []string{r.ImportSupplier, r.ExportSupplier} {
			if who != "" && !slices.Contains(out, who) {
				out = append(out, who)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// concerns reports whether a Supplier may see and remove a hub: it
// received it, installed it, or is registered for a meter on it (the
// second Supplier of a split fuel premises, para 343-346).
func (s *Service) concerns(ctx context.Context, caller string, h store.Hub) (bool, error) {
	if h.Supplier == caller || h.Installer == caller || h.RemovedBy == caller {
		return true, nil
	}
	sup, err := s.suppliersOf(ctx, h.ID, s.now())
	return slices.Contains(sup, caller), err
}

// Hubs lists the hubs the caller received, installed or removed.
func (s *Service) Hubs(ctx context.Context, caller string) ([]store.Hub, error) {
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	hs, err := s.cfg.Store.ListHubs(ctx, store.HubFilter{})
	if err != nil {
		return nil, err
	}
	var out []store.Hub
	for _, h := range hs {
		if h.Supplier == caller || h.Installer == caller || h.RemovedBy == caller {
			out = append(out, h)
		}
	}
	return out, nil
}

// RemovalInput is a Supplier's record of a hub's removal.
type RemovalInput struct {
	// Reason is a key of spec hubs.removal_reasons.
	Reason             string
	ReplacementVariant string
	CSPRequested       bool
	RefreshProgramme   string
}

// Remove records today's removal of a hub by the caller; its CHF moves to
// spec hubs.lifecycle.removed on the inventory. Who pays for it is decided
// when the month's charges are computed (policy hubs.rego).
func (s *Service) Remove(ctx context.Context, caller, id string, in RemovalInput) (store.Hub, error) {
	if err := s.supplier(ctx, caller); err != nil {
		return store.Hub{}, err
	}
	if err := s.Sync(ctx); err != nil {
		return store.Hub{}, err
	}
	h, err := s.cfg.Store.GetHub(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return h, errf(CodeNotFound, "no hub %s", id)
	}
	if err != nil {
		return h, err
	}
	if ok, err := s.concerns(ctx, caller, h); err != nil {
		return h, err
	} else if !ok {
		return store.Hub{}, errf(CodeNotFound, "no hub %s of %s", id, caller)
	}
	hc := &s.cfg.Spec.Hubs
	if _, ok := hc.RemovalReasons[in.Reason]; !ok {
		return h, errf(CodeInvalid, "unknown removal reason %q", in.Reason)
	}
	if _, ok := hc.HANVariants[in.ReplacementVariant]; in.ReplacementVariant != "" && !ok {
		return h, errf(CodeInvalid, "unknown HAN variant %q", in.ReplacementVariant)
	}
	r := store.Hub{RemovedAt: s.now(), RemovedBy: caller, RemovalReason: in.Reason, ReplacementVariant: in.ReplacementVariant,
		CSPRequested: in.CSPRequested, RefreshProgramme: in.RefreshProgramme}
	if err := s.cfg.Store.RemoveHub(ctx, id, r, hc.Lifecycle["removed"]); errors.Is(err, store.ErrStale) {
		return h, errf(CodeConflict, "hub %s is removed already", id)
	} else if err != nil {
		return h, err
	}
	return s.cfg.Store.GetHub(ctx, id)
}

// RecordUnpaid records that a party did not pay its invoice of a month
// that has ended (a Communications Hub Finance Acceleration Event, K9.7):
// the finance invoice is drawn from the float that month, and either
// invoice's bad debt is socialised across the other users the next month
// (para 300-303, 369), as the hubs policy says.
func (s *Service) RecordUnpaid(ctx context.Context, party, month, invoice string) (store.HubDefault, error) {
	d := store.HubDefault{Party: party, Month: month, Invoice: invoice, RecordedAt: s.now()}
	m, err := hubs.ParseMonth(month)
	if err != nil {
		return d, errf(CodeInvalid, "%v", err)
	}
	if err := CheckMonth(m); err != nil {
		return d, err
	}
	if s.now().Before(m.End()) {
		return d, errf(CodeInvalid, "%s has not ended: its invoices are not issued yet (para 364)", month)
	}
	if inv, ok := s.cfg.Spec.Hubs.Invoices[invoice]; !ok || inv.BadDebtKind == "" {
		return d, errf(CodeInvalid, "invoice %q is not one a party pays", invoice)
	}
	if _, err := s.cfg.Store.GetUser(ctx, party); errors.Is(err, store.ErrNotFound) {
		return d, errf(CodeNotFound, "no user %s", party)
	} else if err != nil {
		return d, err
	}
	// Only an invoice with something owed on it can go unpaid: a default
	// of nothing would draw nothing from the float and socialise nothing.
	st, err := s.Statement(ctx, m)
	if err != nil {
		return d, err
	}
	if inv := st.Invoice(party, invoice); inv == nil || inv.Total <= 0 {
		var total hubs.Pence
		if inv != nil {
			total = inv.Total
		}
		return d, errf(CodeNothingOwed, "%s owed nothing on its %s invoice of %s (%s): an unpaid invoice is one with an amount owed (para 369)",
			party, invoice, month, total)
	}
	return d, s.cfg.Store.PutHubDefault(ctx, d)
}

// countVariant counts the hubs of a variant.
func countVariant(hs []store.Hub, variant string) int {
	n := 0
	for _, h := range hs {
		if h.Variant == variant {
			n++
		}
	}
	return n
}
