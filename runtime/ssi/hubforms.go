package ssi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
)

// The hubs page's forms (para 248: "for Suppliers, facilities to support
// the forecasting and ordering of Communications Hubs"). They call the
// hub service the API's handlers call (POST /hubs/v1/forecasts and
// /hubs/v1/orders), so a form is refused as the API refuses its JSON: with
// the service's reason code and clause, and the status the API answers
// with. A refused form comes back as it was written; one taken redirects
// (303), so a reload does not send it again. Like every form of the SSI,
// they carry the session's CSRF token (authed) and are bounded in size
// (ServeHTTP).

// forecastForm is the forecast form as written.
type forecastForm struct {
	Month, Variant, Quantity string
}

// orderForm is the order form as written: the number of hubs of each HAN
// variant (a line of the order each one given) by the variant's key.
type orderForm struct {
	ID, Region, Tranche string
	Quantities          map[string]string
}

// fileHubForecast files the user's forecast of the hubs of a HAN variant
// it will order in a month, replacing one of the same month and variant,
// and redirects to the hubs page saying so.
func (s *SSI) fileHubForecast(w http.ResponseWriter, r *http.Request, sess *session) {
	f := forecastForm{Month: strings.TrimSpace(r.PostFormValue("month")), Variant: r.PostFormValue("variant"),
		Quantity: strings.TrimSpace(r.PostFormValue("quantity"))}
	keep := func(d *hubsPage) { d.ForecastForm = f }
	if s.cfg.Hubs == nil {
		s.noHubRecords(w, r, sess)
		return
	}
	q, err := formQuantity("quantity", f.Quantity)
	var filed store.HubForecast
	if err == nil {
		filed, err = s.cfg.Hubs.Forecast(r.Context(), sess.User, store.HubForecast{Month: f.Month, Variant: f.Variant, Quantity: q})
	}
	if err != nil {
		s.hubFormRefused(w, r, sess, "forecast", err, nil, keep)
		return
	}
	http.Redirect(w, r, Prefix+"hubs?filed="+url.QueryEscape(filed.Month+"/"+filed.Variant), http.StatusSeeOther)
}

// placeHubOrder places the user's order, a line for each HAN variant
// whose number of hubs is given (in the order of the variants' keys), and
// redirects to the order's page.
func (s *SSI) placeHubOrder(w http.ResponseWriter, r *http.Request, sess *session) {
	f := orderForm{ID: strings.TrimSpace(r.PostFormValue("id")), Region: r.PostFormValue("region"), Tranche: r.PostFormValue("tranche"),
		Quantities: map[string]string{}}
	variants := s.cfg.Spec.Hubs.HANVariants
	var (
		lines  []store.HubOrderLine
		labels []string // of each line's variant
		err    error
	)
	for _, v := range sortedKeys(variants) {
		q := strings.TrimSpace(r.PostFormValue("quantity_" + v))
		if q == "" {
			continue
		}
		f.Quantities[v] = q
		if err != nil {
			continue // keep the rest of the form as written
		}
		var n int
		if n, err = formQuantity(variants[v].Label+" hubs", q); err == nil {
			lines, labels = append(lines, store.HubOrderLine{Variant: v, Quantity: n}), append(labels, variants[v].Label)
		}
	}
	keep := func(d *hubsPage) { d.OrderForm = f }
	if s.cfg.Hubs == nil {
		s.noHubRecords(w, r, sess)
		return
	}
	var o store.HubOrder
	if err == nil {
		o, err = s.cfg.Hubs.Order(r.Context(), sess.User, hubsvc.OrderInput{ID: f.ID, Region: f.Region, Tranche: f.Tranche, Lines: lines})
	}
	if err != nil {
		s.hubFormRefused(w, r, sess, "order", err, labels, keep)
		return
	}
	http.Redirect(w, r, Prefix+"hubs/orders/"+url.PathEscape(o.ID)+"?placed=1", http.StatusSeeOther)
}

// formQuantity reads a number of hubs written in a form: a whole number.
// Whether it is a number the hubs take is the hub service's to say.
func formQuantity(what, v string) (int, error) {
	if v == "" {
		return 0, &hubsvc.Error{Code: hubsvc.CodeInvalid, Message: what + ": no number of hubs given"}
	}
	n, err := strconv.Atoi(v)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, &hubsvc.Error{Code: hubsvc.CodeInvalid, Message: fmt.Sprintf("%s: %s is beyond the numbers of hubs the gateway counts (%d to %d)", what, v, math.MinInt, math.MaxInt)}
	case err != nil:
		return 0, &hubsvc.Error{Code: hubsvc.CodeInvalid, Message: fmt.Sprintf("%s: %q is not a whole number of hubs", what, v)}
	}
	return n, nil
}

// lineRef is how a refusal of the hub service names an order's line.
var lineRef = regexp.MustCompile(`^lines\[(\d+)\]`)

// hubFormRefused shows the hubs page again with the refusal of a form
// (what: "forecast" or "order"), its reason code and the service's
// message with its clause, and the form as written (keep); the status is
// the one the hubs API answers the refusal with. labels name the HAN
// variant of each line of an order, so that a refusal naming lines[i]
// says which line of the form it is. An error that is not a refusal fails
// the page.
func (s *SSI) hubFormRefused(w http.ResponseWriter, r *http.Request, sess *session, what string, err error, labels []string, keep func(*hubsPage)) {
	he := hubRefusal(err)
	if he == nil {
		s.fail(w, sess, err)
		return
	}
	msg := fmt.Sprintf("The %s was refused, reason %s: %s.", what, he.Code, strings.TrimSuffix(he.Message, "."))
	if m := lineRef.FindStringSubmatch(he.Message); m != nil {
		if i, _ := strconv.Atoi(m[1]); i < len(labels) {
			msg += fmt.Sprintf(" (%s is the line of %s hubs.)", m[0], labels[i])
		}
	}
	d, verr := s.hubsView(r.Context(), sess, hubs.MonthOf(s.cfg.Clock.Now()).Add(-1))
	if verr != nil {
		s.fail(w, sess, verr)
		return
	}
	keep(&d)
	s.renderHubs(w, hubsvc.HTTPStatus(he.Code), sess, d, msg, "")
}

// noHubRecords refuses a hub form on a gateway whose store keeps no hub
// records, as the API does (501).
func (s *SSI) noHubRecords(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.hubsView(r.Context(), sess, hubs.MonthOf(s.cfg.Clock.Now()).Add(-1))
	if err != nil {
		s.fail(w, sess, err)
		return
	}
	s.renderHubs(w, http.StatusNotImplemented, sess, d, "This gateway's store keeps no Communications Hub records: hubs cannot be forecast or ordered here.", "")
}
