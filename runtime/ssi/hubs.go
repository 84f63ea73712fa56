package ssi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Hubs is a Supplier's Communications Hubs (chapter 7) as the gateway
// holds them (hubsvc.Service): each method reads or acts on the caller's
// own, under the rules the hubs API (/hubs/v1/) applies, for they are the
// same methods.
type Hubs interface {
	Forecasts(ctx context.Context, userID string) ([]store.HubForecast, error)
	Orders(ctx context.Context, userID string) ([]hubsvc.OrderView, error)
	GetOrder(ctx context.Context, userID, id string) (hubsvc.OrderView, error)
	Charges(ctx context.Context, userID string, m hubs.Month) (*hubsvc.Statement, error)
	// MayOrder is nil if the user may forecast and order hubs, else the
	// refusal Forecast and Order give it (hubsvc.CodeNotPermitted).
	MayOrder(ctx context.Context, userID string) error
	// Forecast files the user's forecast of a month and HAN variant,
	// replacing an earlier one of both (para 290).
	Forecast(ctx context.Context, userID string, f store.HubForecast) (store.HubForecast, error)
	// Order places the user's order today.
	Order(ctx context.Context, userID string, in hubsvc.OrderInput) (store.HubOrder, error)
}

// The service runtime/server wires in (SetHubs) is a Hubs.
var _ Hubs = (*hubsvc.Service)(nil)

// SetHubs gives the SSI the gateway's Communications Hubs; call it before
// the SSI serves.
func (s *SSI) SetHubs(h Hubs) { s.cfg.Hubs = h }

// hubsPage is what the hubs pages show.
type hubsPage struct {
	Month     string
	Forecasts []store.HubForecast
	Orders    []hubsvc.OrderView
	Order     *hubsvc.OrderView
	Charges   *hubsvc.Statement
	// NoCharges says why there is no statement to show.
	NoCharges string
	Variants  map[string]spec.HANVariant
	Reasons   map[string]spec.HubRemovalReason
	Regions   spec.HubRegions
	Tranches  map[string]spec.HubTranche
	// DefaultTranche is the tranche of an order that names none.
	DefaultTranche string
	Held           bool // the gateway holds hub records
	// MayOrder: the user may forecast and order hubs (hubsvc decides), and
	// the page offers the forms; else NotPermitted says why, and the page
	// shows the user's part of the charges only.
	MayOrder     bool
	NotPermitted string
	// ForecastForm and OrderForm are the forms as written (kept when
	// refused), or as the page offers them.
	ForecastForm forecastForm
	OrderForm    orderForm
}

// hubAccess says whether a user may forecast and order hubs (hubsvc
// decides) or sees only its part of their charges; neither if the gateway
// holds no hub records, or cannot tell now (it is asked again on the hubs
// page). The session keeps it for the navigation.
func (s *SSI) hubAccess(ctx context.Context, userID string) (mayOrder, chargesOnly bool) {
	if s.cfg.Hubs == nil {
		return false, false
	}
	err := s.cfg.Hubs.MayOrder(ctx, userID)
	if err == nil {
		return true, false
	}
	if he := hubRefusal(err); he != nil && he.Code == hubsvc.CodeNotPermitted {
		return false, true
	}
	s.cfg.Logger.Warn("ssi: hub access", "user", userID, "err", err)
	return false, false
}

// hubRefusal is err as the hub service's refusal, nil if it is another
// error.
func hubRefusal(err error) *hubsvc.Error {
	var he *hubsvc.Error
	if errors.As(err, &he) {
		return he
	}
	return nil
}

// hubsView reads what the hubs page shows the user, the charges of month
// m: a user that may not order sees the charges only, and why.
func (s *SSI) hubsView(ctx context.Context, sess *session, m hubs.Month) (hubsPage, error) {
	hc := &s.cfg.Spec.Hubs
	d := hubsPage{Month: m.String(), Variants: hc.HANVariants, Reasons: hc.RemovalReasons, Regions: hc.Regions, Tranches: hc.Tranches,
		DefaultTranche: hc.DefaultTranche, Held: s.cfg.Hubs != nil,
		// A forecast is of the hubs to order in a month to come; next
		// month is offered, any other may be typed (hubsvc judges it).
		ForecastForm: forecastForm{Month: hubs.MonthOf(s.cfg.Clock.Now()).Add(1).String()}}
	if s.cfg.Hubs == nil {
		return d, nil
	}
	err := s.cfg.Hubs.MayOrder(ctx, sess.User)
	if he := hubRefusal(err); he != nil && he.Code == hubsvc.CodeNotPermitted {
		d.NotPermitted = he.Message
	} else if err != nil {
		return d, err
	}
	d.MayOrder = err == nil
	if d.MayOrder {
		if d.Forecasts, err = s.cfg.Hubs.Forecasts(ctx, sess.User); err != nil {
			return d, err
		}
		if d.Orders, err = s.cfg.Hubs.Orders(ctx, sess.User); err != nil {
			return d, err
		}
	}
	if d.Charges, err = s.cfg.Hubs.Charges(ctx, sess.User, m); err != nil {
		s.cfg.Logger.Warn("ssi: hub charges", "user", sess.User, "month", d.Month, "err", err)
		d.Charges, d.NoCharges = nil, "The charges of this month cannot be computed yet."
	}
	return d, nil
}

// renderHubs renders the hubs page: titled for what the user may do there.
func (s *SSI) renderHubs(w http.ResponseWriter, status int, sess *session, d hubsPage, msg, notice string) {
	title := "Communications Hubs"
	if d.NotPermitted != "" {
		title = "Communications Hub charges"
	}
	s.render(w, status, "hubs", page{Title: title, Nav: "hubs", User: sess, Data: d, Error: msg, Notice: notice})
}

// hubList shows the user's hub forecasts and orders with their deliveries,
// with the forms to file a forecast and place an order, and a month's
// charges (?month=YYYY-MM; default the last month ended). ?filed=MONTH/VARIANT,
// where a forecast was just filed (fileHubForecast), says so;
// ?revise=MONTH/VARIANT fills the forecast form with that forecast.
func (s *SSI) hubList(w http.ResponseWriter, r *http.Request, sess *session) {
	m, ok := s.queryMonth(w, r, sess, hubs.MonthOf(s.cfg.Clock.Now()).Add(-1))
	if !ok {
		return
	}
	d, err := s.hubsView(r.Context(), sess, m)
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	q := r.URL.Query()
	var notice string
	if f := findForecast(d.Forecasts, q.Get("filed")); f != nil {
		notice = fmt.Sprintf("Your forecast of %d hubs of %s for %s was filed (at %s UTC); it replaces any earlier one of that month and variant.",
			f.Quantity, s.variantLabel(f.Variant), f.Month, f.FiledAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if f := findForecast(d.Forecasts, q.Get("revise")); f != nil {
		d.ForecastForm = forecastForm{Month: f.Month, Variant: f.Variant, Quantity: strconv.Itoa(f.Quantity)}
	}
	s.renderHubs(w, http.StatusOK, sess, d, "", notice)
}

// findForecast returns the forecast of key MONTH/VARIANT, nil if there is
// none.
func findForecast(fs []store.HubForecast, key string) *store.HubForecast {
	month, variant, ok := strings.Cut(key, "/")
	if !ok {
		return nil
	}
	for i := range fs {
		if fs[i].Month == month && fs[i].Variant == variant {
			return &fs[i]
		}
	}
	return nil
}

// variantLabel is a HAN variant's label, or its key if the spec has none.
func (s *SSI) variantLabel(v string) string {
	if hv, ok := s.cfg.Spec.Hubs.HANVariants[v]; ok {
		return hv.Label
	}
	return v
}

// hubOrder shows one of the user's orders with the hubs delivered for it;
// another user's order is not found (para 250). ?placed=1, where the order
// was just placed (placeHubOrder), says so.
func (s *SSI) hubOrder(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.Hubs == nil {
		s.notFound(w, sess, "order")
		return
	}
	o, err := s.cfg.Hubs.GetOrder(r.Context(), sess.User, r.PathValue("id"))
	if he := hubRefusal(err); he != nil && he.Code == hubsvc.CodeNotFound {
		s.notFound(w, sess, "order")
		return
	}
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	var notice string
	if r.URL.Query().Get("placed") != "" {
		notice = fmt.Sprintf("Your order %s was placed (at %s UTC). The hubs the DCC delivers for it appear below.", o.ID, o.OrderedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	hc := &s.cfg.Spec.Hubs
	s.render(w, http.StatusOK, "hub-order", page{Title: "Hub order " + o.ID, Nav: "hubs", User: sess, Notice: notice,
		Data: hubsPage{Order: &o, Variants: hc.HANVariants, Reasons: hc.RemovalReasons, Regions: hc.Regions, Tranches: hc.Tranches,
			DefaultTranche: hc.DefaultTranche, Held: true}})
}

// monthRange is the months a page's month (?month=, on the hubs and the
// reports pages) may be: one rule for both, the months the hub charges and
// the reports may both be of (those whose times the store holds).
func (s *SSI) monthRange() (first, last clock.Month) {
	first, last = hubsvc.Months()
	if s.cfg.Reports != nil {
		rf, rl := s.cfg.Reports.Months()
		if first.Before(rf) {
			first = rf
		}
		if rl.Before(last) {
			last = rl
		}
	}
	return first, last
}

// queryMonth reads the page's ?month=YYYY-MM, def if there is none; a
// month malformed or out of monthRange is answered 400, saying the rule,
// and ok is false.
func (s *SSI) queryMonth(w http.ResponseWriter, r *http.Request, sess *session, def clock.Month) (m clock.Month, ok bool) {
	q := r.URL.Query().Get("month")
	if q == "" {
		return def, true
	}
	first, last := s.monthRange()
	m, err := clock.ParseMonth(q)
	if err != nil || m.Before(first) || last.Before(m) {
		s.render(w, http.StatusBadRequest, "error", page{Title: "Bad month", User: sess,
			Error: fmt.Sprintf("The month is YYYY-MM, from %s to %s (the months whose times the store holds), not %q.", first, last, q)})
		return m, false
	}
	return m, true
}
