package ssi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Hubs is a Supplier's Communications Hubs (chapter 7) as the gateway
// holds them (hubsvc.Service): each method returns the caller's own.
type Hubs interface {
	Forecasts(ctx context.Context, userID string) ([]store.HubForecast, error)
	Orders(ctx context.Context, userID string) ([]hubsvc.OrderView, error)
	GetOrder(ctx context.Context, userID, id string) (hubsvc.OrderView, error)
	Charges(ctx context.Context, userID string, m hubs.Month) (*hubsvc.Statement, error)
}

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
	Held      bool // the gateway holds hub records
}

// hubList shows the user's hub forecasts, orders with their deliveries,
// and a month's charges (?month=YYYY-MM; default the last month ended).
func (s *SSI) hubList(w http.ResponseWriter, r *http.Request, sess *session) {
	hc := &s.cfg.Spec.Hubs
	d := hubsPage{Variants: hc.HANVariants, Reasons: hc.RemovalReasons, Held: s.cfg.Hubs != nil}
	m, ok := s.queryMonth(w, r, sess, hubs.MonthOf(s.cfg.Clock.Now()).Add(-1))
	if !ok {
		return
	}
	d.Month = m.String()
	if s.cfg.Hubs != nil {
		ctx := r.Context()
		var err error
		if d.Forecasts, err = s.cfg.Hubs.Forecasts(ctx, sess.User); err != nil {
			s.fail(w, sess, err)
			return
		}
		if d.Orders, err = s.cfg.Hubs.Orders(ctx, sess.User); err != nil {
			s.fail(w, sess, err)
			return
		}
		if d.Charges, err = s.cfg.Hubs.Charges(ctx, sess.User, m); err != nil {
			s.cfg.Logger.Warn("ssi: hub charges", "user", sess.User, "month", d.Month, "err", err)
			d.Charges, d.NoCharges = nil, "The charges of this month cannot be computed yet."
		}
	}
	s.render(w, http.StatusOK, "hubs", page{Title: "Communications Hubs", Nav: "hubs", User: sess, Data: d})
}

// hubOrder shows one of the user's orders with the hubs delivered for it;
// another user's order is not found (para 250).
func (s *SSI) hubOrder(w http.ResponseWriter, r *http.Request, sess *session) {
	if s.cfg.Hubs == nil {
		s.notFound(w, sess, "order")
		return
	}
	o, err := s.cfg.Hubs.GetOrder(r.Context(), sess.User, r.PathValue("id"))
	var he *hubsvc.Error
	if errors.As(err, &he) && he.Code == hubsvc.CodeNotFound {
		s.notFound(w, sess, "order")
		return
	}
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	hc := &s.cfg.Spec.Hubs
	s.render(w, http.StatusOK, "hub-order", page{Title: "Hub order " + o.ID, Nav: "hubs", User: sess,
		Data: hubsPage{Order: &o, Variants: hc.HANVariants, Reasons: hc.RemovalReasons, Held: true}})
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
