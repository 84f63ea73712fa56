package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
)

// HubsAPIPrefix is where Suppliers reach their Communications Hubs over the
// gateway's API listener (mutual TLS, the caller's User ID from its
// certificate; each sees only its own), as JSON:
//
//	POST /hubs/v1/forecasts            {month, variant, quantity}
//	GET  /hubs/v1/forecasts            the caller's forecasts
//	POST /hubs/v1/orders               {id, region, tranche, lines: [{variant, quantity}]}
//	GET  /hubs/v1/orders               the caller's orders with the hubs delivered
//	GET  /hubs/v1/orders/{id}          one
//	GET  /hubs/v1/hubs                 the hubs the caller received, installed or removed
//	POST /hubs/v1/hubs/{id}/removal    {reason, replacement_variant, csp_requested, refresh_programme}
//	GET  /hubs/v1/charges?month=YYYY-MM  the caller's part of the month's charges
//
// A month is YYYY-MM, one whose times the store holds (hubsvc.Months); any
// other is refused 400. A body that is not the JSON object a call takes is
// refused 400 saying what it should be.
//
// The DCC records deliveries on the admin listener:
//
//	POST /hubs/orders/{id}/delivery    {hubs: [{id, variant}]}
//	POST /hubs/defaults                {party, month, invoice}: an invoice not paid (one with
//	                                   something owed on it; else nothing_owed, 422)
//	GET  /hubs/charges?month=YYYY-MM   every party's charges
const HubsAPIPrefix = "/hubs/v1/"

// newHubs builds the Communications Hubs service over the raw store, or
// returns nil if the store keeps no hub records.
func newHubs(raw store.Store, cfg Config, g *gateway.Gateway, rp *reports.Reports) (*hubsvc.Service, error) {
	st, ok := raw.(hubsvc.Store)
	if !ok {
		return nil, nil
	}
	return hubsvc.New(hubsvc.Config{Store: st, Spec: cfg.Spec, Clock: g, Enrolled: rp.CountEnrolled, Emulate: g.Emulate})
}

func hubsReply(w http.ResponseWriter, v any, err error) {
	writeJSON(w, v, err, func(err error) int {
		var he *hubsvc.Error
		var es hubs.ErrorSet
		switch {
		case errors.Is(err, hubs.ErrNoWeight), errors.As(err, &es):
			// The records do not make a statement yet (no enrolled
			// system to smear by, an inconsistent world).
			return http.StatusUnprocessableEntity
		case errors.As(err, &he):
			return hubsvc.HTTPStatus(he.Code)
		}
		return 0
	})
}

// hubsMonth reads the month=YYYY-MM of a statement, answering 400 with a
// JSON error naming the form and the range (hubsvc.Months) to a month
// missing, malformed or out of it.
func hubsMonth(w http.ResponseWriter, r *http.Request) (hubs.Month, bool) {
	q := r.URL.Query().Get("month")
	m, err := hubs.ParseMonth(q)
	if err == nil {
		err = hubsvc.CheckMonth(m)
	} else {
		first, last := hubsvc.Months()
		what := fmt.Sprintf("month %q is not a month", q)
		if q == "" {
			what = "no month"
		}
		err = fmt.Errorf("%s: give month=YYYY-MM, a month from %s to %s", what, first, last)
	}
	if err != nil {
		writeJSON(w, nil, err, func(error) int { return http.StatusBadRequest })
		return m, false
	}
	return m, true
}

// hubsAPI is the users' Communications Hubs API (HubsAPIPrefix).
func (s *Server) hubsAPI() http.Handler {
	mux := http.NewServeMux()
	p := HubsAPIPrefix
	user := func(h func(w http.ResponseWriter, r *http.Request, caller string)) http.HandlerFunc {
		return asUser(func(w http.ResponseWriter, r *http.Request, caller string) {
			if s.Hubs == nil {
				http.Error(w, `{"error":"this gateway's store keeps no Communications Hub records"}`, http.StatusNotImplemented)
				return
			}
			h(w, r, caller)
		})
	}
	mux.HandleFunc("POST "+p+"forecasts", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			Month    string `json:"month"`
			Variant  string `json:"variant"`
			Quantity int    `json:"quantity"`
		}
		if decodeBody(w, r, &in, `{"month","variant","quantity"}`) {
			f, err := s.Hubs.Forecast(r.Context(), caller, store.HubForecast{Month: in.Month, Variant: in.Variant, Quantity: in.Quantity})
			hubsReply(w, f, err)
		}
	}))
	mux.HandleFunc("GET "+p+"forecasts", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		fs, err := s.Hubs.Forecasts(r.Context(), caller)
		hubsReply(w, fs, err)
	}))
	mux.HandleFunc("POST "+p+"orders", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			ID      string               `json:"id"`
			Region  string               `json:"region"`
			Tranche string               `json:"tranche"`
			Lines   []store.HubOrderLine `json:"lines"`
		}
		if decodeBody(w, r, &in, `{"id","region","tranche","lines":[{"variant","quantity"}]}`) {
			o, err := s.Hubs.Order(r.Context(), caller, hubsvc.OrderInput{ID: in.ID, Region: in.Region, Tranche: in.Tranche, Lines: in.Lines})
			hubsReply(w, o, err)
		}
	}))
	mux.HandleFunc("GET "+p+"orders", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		os, err := s.Hubs.Orders(r.Context(), caller)
		hubsReply(w, os, err)
	}))
	mux.HandleFunc("GET "+p+"orders/{id}", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		o, err := s.Hubs.GetOrder(r.Context(), caller, r.PathValue("id"))
		hubsReply(w, o, err)
	}))
	mux.HandleFunc("GET "+p+"hubs", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		hs, err := s.Hubs.Hubs(r.Context(), caller)
		hubsReply(w, hs, err)
	}))
	mux.HandleFunc("POST "+p+"hubs/{id}/removal", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		var in struct {
			Reason             string `json:"reason"`
			ReplacementVariant string `json:"replacement_variant"`
			CSPRequested       bool   `json:"csp_requested"`
			RefreshProgramme   string `json:"refresh_programme"`
		}
		if decodeBody(w, r, &in, `{"reason","replacement_variant","csp_requested","refresh_programme"}`) {
			h, err := s.Hubs.Remove(r.Context(), caller, r.PathValue("id"), hubsvc.RemovalInput{Reason: in.Reason,
				ReplacementVariant: in.ReplacementVariant, CSPRequested: in.CSPRequested, RefreshProgramme: in.RefreshProgramme})
			hubsReply(w, h, err)
		}
	}))
	mux.HandleFunc("GET "+p+"charges", user(func(w http.ResponseWriter, r *http.Request, caller string) {
		if m, ok := hubsMonth(w, r); ok {
			st, err := s.Hubs.Charges(r.Context(), caller, m)
			hubsReply(w, st, err)
		}
	}))
	return mux
}

// mountHubsAdmin adds the DCC's side of the hubs to the admin listener.
func (s *Server) mountHubsAdmin(mux *http.ServeMux) {
	ready := func(w http.ResponseWriter) bool {
		if s.Hubs == nil {
			http.Error(w, `{"error":"this gateway's store keeps no Communications Hub records"}`, http.StatusNotImplemented)
			return false
		}
		return true
	}
	mux.HandleFunc("POST /hubs/orders/{id}/delivery", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Hubs []hubsvc.DeliveredHub `json:"hubs"`
		}
		if ready(w) && decodeBody(w, r, &in, `{"hubs":[{"id","variant"}]}`) {
			o, err := s.Hubs.Deliver(r.Context(), r.PathValue("id"), in.Hubs)
			hubsReply(w, o, err)
		}
	})
	mux.HandleFunc("POST /hubs/defaults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Party   string `json:"party"`
			Month   string `json:"month"`
			Invoice string `json:"invoice"`
		}
		if ready(w) && decodeBody(w, r, &in, `{"party","month","invoice"}`) {
			d, err := s.Hubs.RecordUnpaid(r.Context(), in.Party, in.Month, in.Invoice)
			hubsReply(w, d, err)
		}
	})
	mux.HandleFunc("GET /hubs/charges", func(w http.ResponseWriter, r *http.Request) {
		if !ready(w) {
			return
		}
		if m, ok := hubsMonth(w, r); ok {
			st, err := s.Hubs.Statement(r.Context(), m)
			hubsReply(w, st, err)
		}
	})
}
