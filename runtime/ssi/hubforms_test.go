package ssi_test

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
)

const operator = "00-00-00-00-00-00-0E-01" // the demo electricity network operator (ENO)

// hubForm posts a hub form of the session with its CSRF token; the page
// returned is unescaped, to be read as text.
func (b *browser) hubForm(path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	f := url.Values{"csrf": {b.csrf("/ssi/hubs")}}
	for k, v := range form {
		f[k] = v
	}
	code, page, h := b.do("POST", path, f)
	return code, html.UnescapeString(page), h
}

// apiRefusal is the refusal the hub service, which the hubs API calls,
// gives a call: what the SSI must show.
func apiRefusal(t *testing.T, err error) *hubsvc.Error {
	t.Helper()
	var he *hubsvc.Error
	if !errors.As(err, &he) {
		t.Fatalf("the hub service: %v, want a refusal", err)
	}
	return he
}

// TestHubForecastForm: a Supplier files and replaces its hub forecasts
// on the hubs page (para 248, 290) through the hub service the API calls:
// one taken redirects (303) to the page saying so; one refused is shown
// with the service's reason code and clause, the status the API answers,
// and the form as written. Revise fills the form with a forecast filed.
// The world's clock is 1 June 2026; alpha forecast 4 dual band hubs for
// July.
func TestHubForecastForm(t *testing.T) {
	s := hubWorld(t)
	b := signedIn(t, s, alpha)
	tests := []struct {
		note                     string
		month, variant, quantity string
		code                     int
		reason                   string   // the reason code of a refusal
		says                     []string // on the page after the post (or the redirect)
		api                      bool     // the refusal is the hub service's: the page says its message
	}{
		{note: "next month", month: "2026-07", variant: "single_band", quantity: "5", code: http.StatusSeeOther,
			says: []string{"Your forecast of 5 hubs of 2.4 GHz for 2026-07 was filed"}},
		{note: "this month", month: "2026-06", variant: "other", quantity: "0", code: http.StatusSeeOther,
			says: []string{"Your forecast of 0 hubs of Other HAN"}},
		{note: "one filed before, replaced", month: " 2026-07 ", variant: "dual_band", quantity: "6", code: http.StatusSeeOther,
			says: []string{"Your forecast of 6 hubs of Dual band (2.4 GHz and 868 MHz) for 2026-07 was filed", "it replaces any earlier one"}},
		{note: "a month passed", month: "2026-05", variant: "single_band", quantity: "3", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeMonthPassed, says: []string{"(para 290)"}, api: true},
		{note: "not a month", month: "July", variant: "single_band", quantity: "3", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, api: true},
		{note: "an unknown HAN variant", month: "2026-08", variant: "quad_band", quantity: "3", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{`unknown HAN variant "quad_band"`}, api: true},
		{note: "fewer than none", month: "2026-08", variant: "single_band", quantity: "-1", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{"quantity -1"}, api: true},
		{note: "not a number", month: "2026-08", variant: "single_band", quantity: "four", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{`quantity: "four" is not a whole number of hubs`}},
		{note: "no number", month: "2026-08", variant: "single_band", quantity: "", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{"quantity: no number of hubs given"}},
		{note: "beyond an int", month: "2026-08", variant: "single_band", quantity: "99999999999999999999", code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{"is beyond the numbers of hubs the gateway counts"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			before, err := s.Hubs.Forecasts(t.Context(), alpha)
			if err != nil {
				t.Fatal(err)
			}
			code, page, h := b.hubForm("/ssi/hubs/forecasts", url.Values{"month": {tc.month}, "variant": {tc.variant}, "quantity": {tc.quantity}})
			if code != tc.code {
				t.Fatalf("status %d, want %d\n%s", code, tc.code, page)
			}
			if code == http.StatusSeeOther {
				loc := h.Get("Location")
				if !strings.HasPrefix(loc, "/ssi/hubs?filed=") {
					t.Fatalf("redirected to %q", loc)
				}
				for range 2 { // the page, then a reload of it
					_, page, _ = b.do("GET", loc, nil)
					page = html.UnescapeString(page)
					if !strings.Contains(page, `id="notice"`) {
						t.Fatalf("no notice on %s", loc)
					}
				}
			} else {
				if !strings.Contains(page, "The forecast was refused, reason "+tc.reason+": ") {
					t.Errorf("the page does not give reason %s", tc.reason)
				}
				if tc.api {
					_, err := s.Hubs.Forecast(t.Context(), alpha, store.HubForecast{Month: strings.TrimSpace(tc.month), Variant: tc.variant, Quantity: atoi(t, tc.quantity)})
					if he := apiRefusal(t, err); he.Code != tc.reason || !strings.Contains(page, he.Message) {
						t.Errorf("the page does not say the service's refusal %v", he)
					}
				}
				for _, kept := range []string{`id="forecast-month" name="month" required value="` + strings.TrimSpace(tc.month) + `"`,
					`id="forecast-quantity" name="quantity" inputmode="numeric" required value="` + tc.quantity + `"`} {
					if !strings.Contains(page, kept) {
						t.Errorf("the refused form lost %s", kept)
					}
				}
				if after, _ := s.Hubs.Forecasts(t.Context(), alpha); len(after) != len(before) {
					t.Errorf("a refused forecast was kept: %d forecasts, then %d", len(before), len(after))
				}
			}
			for _, w := range tc.says {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %q\n%s", w, page)
				}
			}
		})
	}
	fs, err := s.Hubs.Forecasts(t.Context(), alpha)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range fs {
		got[f.Month+"/"+f.Variant] = f.Quantity
	}
	if want := map[string]int{"2026-07/dual_band": 6, "2026-07/single_band": 5, "2026-06/other": 0}; len(got) != len(want) ||
		got["2026-07/dual_band"] != 6 || got["2026-07/single_band"] != 5 || got["2026-06/other"] != 0 {
		t.Fatalf("forecasts %v, want %v", got, want)
	}

	// Revise fills the form with the forecast; another key, or none,
	// leaves the form as offered (next month, no quantity).
	revise := []struct {
		note, key string
		want      []string
	}{
		{"a forecast filed", "2026-07/dual_band", []string{`name="month" required value="2026-07"`, `<option value="dual_band" selected>`, `name="quantity" inputmode="numeric" required value="6"`}},
		{"none of that month", "2026-09/dual_band", []string{`name="month" required value="2026-07"`, `name="quantity" inputmode="numeric" required value=""`}},
		{"not a key", "2026-07", []string{`name="quantity" inputmode="numeric" required value=""`}},
	}
	for _, tc := range revise {
		t.Run("revise "+tc.note, func(t *testing.T) {
			code, page, _ := b.do("GET", "/ssi/hubs?revise="+url.QueryEscape(tc.key), nil)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("the form lacks %s", w)
				}
			}
		})
	}
}

// atoi is a quantity of a test case that the form reads as a number.
func atoi(t *testing.T, q string) int {
	t.Helper()
	n, err := strconv.Atoi(q)
	if err != nil {
		t.Fatalf("%q is not a number the form reads", q)
	}
	return n
}

// TestHubOrderForm: a Supplier places an order on the hubs page, a line
// for each HAN variant given (in the order of the variants' keys:
// dual_band, other, single_band), a region and a tranche, through the hub
// service the API calls: one taken redirects (303) to the order's page
// saying so; one refused shows the service's reason code and clause (a
// line named as the form's), the API's status, and the form as written;
// nothing refused is kept.
func TestHubOrderForm(t *testing.T) {
	s := hubWorld(t)
	b := signedIn(t, s, alpha)
	tests := []struct {
		note   string
		form   url.Values
		code   int
		reason string
		says   []string // on the page after the post (or the order's page)
		api    *hubsvc.OrderInput
	}{
		{note: "two variants, an ID assigned", form: query("region", "north", "quantity_single_band", "3", "quantity_dual_band", "1"), code: http.StatusSeeOther,
			says: []string{"was placed", "Northern region (Arqiva)", "1 × Dual band (2.4 GHz and 868 MHz), 3 × 2.4 GHz", "initial (the default)"}},
		{note: "an ID and a tranche", form: query("id", " O-FORM-1 ", "region", "central", "tranche", "subsequent", "quantity_other", "2"), code: http.StatusSeeOther,
			says: []string{"Your order O-FORM-1 was placed", "Central region (Telefónica)", "2 × Other HAN", `id="order-tranche">subsequent<`}},
		{note: "an ID used", form: query("id", "O-FORM-1", "region", "central", "quantity_other", "2"), code: http.StatusConflict,
			reason: hubsvc.CodeConflict, says: []string{"order O-FORM-1 exists"},
			api: &hubsvc.OrderInput{ID: "O-FORM-1", Region: "central", Lines: []store.HubOrderLine{{Variant: "other", Quantity: 2}}}},
		{note: "no region", form: query("quantity_single_band", "3"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeRegion, says: []string{"no region", "(para 18)"},
			api: &hubsvc.OrderInput{Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 3}}}},
		{note: "an unknown region", form: query("region", "midlands", "quantity_single_band", "3"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeRegion, says: []string{`unknown region "midlands"`},
			api: &hubsvc.OrderInput{Region: "midlands", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 3}}}},
		{note: "no line", form: query("region", "south"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{"an order needs at least one line"},
			api: &hubsvc.OrderInput{Region: "south"}},
		{note: "a line of no hubs", form: query("region", "south", "quantity_dual_band", "2", "quantity_single_band", "0"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeQuantity, says: []string{"lines[1]: quantity 0: a line orders one hub or more (para 320-322)", "(lines[1] is the line of 2.4 GHz hubs.)"},
			api: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{{Variant: "dual_band", Quantity: 2}, {Variant: "single_band", Quantity: 0}}}},
		{note: "lines adding up past an int", form: query("region", "south", "quantity_dual_band", "9223372036854775807", "quantity_other", "1"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeQuantity, says: []string{"the lines add up to more than", "(lines[1] is the line of Other HAN"},
			api: &hubsvc.OrderInput{Region: "south", Lines: []store.HubOrderLine{{Variant: "dual_band", Quantity: 9223372036854775807}, {Variant: "other", Quantity: 1}}}},
		{note: "an unknown tranche", form: query("region", "south", "tranche", "cheap", "quantity_single_band", "1"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{`unknown tranche "cheap"`},
			api: &hubsvc.OrderInput{Region: "south", Tranche: "cheap", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 1}}}},
		{note: "not a number", form: query("region", "south", "quantity_single_band", "three"), code: http.StatusUnprocessableEntity,
			reason: hubsvc.CodeInvalid, says: []string{`2.4 GHz hubs: "three" is not a whole number of hubs`}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			before, err := s.Hubs.Orders(t.Context(), alpha)
			if err != nil {
				t.Fatal(err)
			}
			code, page, h := b.hubForm("/ssi/hubs/orders", tc.form)
			if code != tc.code {
				t.Fatalf("status %d, want %d\n%s", code, tc.code, page)
			}
			if code == http.StatusSeeOther {
				loc := h.Get("Location")
				if !strings.HasPrefix(loc, "/ssi/hubs/orders/") || !strings.HasSuffix(loc, "?placed=1") {
					t.Fatalf("redirected to %q", loc)
				}
				_, page, _ = b.do("GET", loc, nil)
				page = html.UnescapeString(page)
			} else {
				if !strings.Contains(page, "The order was refused, reason "+tc.reason+": ") {
					t.Errorf("the page does not give reason %s", tc.reason)
				}
				if tc.api != nil {
					_, err := s.Hubs.Order(t.Context(), alpha, *tc.api)
					if he := apiRefusal(t, err); he.Code != tc.reason || !strings.Contains(page, he.Message) {
						t.Errorf("the page does not say the service's refusal %v", he)
					}
				}
				for k, v := range tc.form {
					kept := `id="order-id" name="id" value="` + strings.TrimSpace(v[0]) + `"`
					switch {
					case strings.HasPrefix(k, "quantity_"):
						kept = `id="order-quantity-` + strings.TrimPrefix(k, "quantity_") + `" name="` + k + `" inputmode="numeric" value="` + v[0] + `"`
					case k == "tranche" && v[0] == "subsequent":
						kept = `<option value="subsequent" selected>`
					case k != "id":
						continue
					}
					if !strings.Contains(page, kept) {
						t.Errorf("the refused form lost %s", kept)
					}
				}
				if r := tc.form.Get("region"); r == "north" || r == "central" || r == "south" {
					if !strings.Contains(page, `<option value="`+r+`" selected>`) {
						t.Errorf("the refused form lost its region")
					}
				}
				if after, _ := s.Hubs.Orders(t.Context(), alpha); len(after) != len(before) {
					t.Errorf("a refused order was kept: %d orders, then %d", len(before), len(after))
				}
			}
			for _, w := range tc.says {
				if !strings.Contains(page, w) {
					t.Errorf("the page lacks %q\n%s", w, page)
				}
			}
		})
	}
	o, err := s.Hubs.GetOrder(t.Context(), alpha, "O-FORM-1")
	if err != nil || o.Tranche != "subsequent" || o.Region != "central" || len(o.Lines) != 1 || o.Lines[0] != (store.HubOrderLine{Variant: "other", Quantity: 2}) {
		t.Fatalf("O-FORM-1 %+v %v", o, err)
	}
	// The orders placed are listed on the hubs page.
	if _, page, _ := b.do("GET", "/ssi/hubs", nil); !strings.Contains(page, `href="/ssi/hubs/orders/O-FORM-1"`) || !strings.Contains(page, `href="/ssi/hubs/orders/HO-`) {
		t.Fatalf("the orders placed are not listed")
	}
}

// TestHubFormsByRole: the forms are offered, and the navigation reads
// "Communications Hubs", to the users the hub service lets order
// (Suppliers); the others (a network operator, an agent, an other user)
// see "Communications Hub charges", their part of the charges and why
// there is no form, and a form they post anyway is refused as the API
// refuses it (403, not_permitted). The demand forecasts page points a
// Supplier to its hub forecasts.
func TestHubFormsByRole(t *testing.T) {
	s := hubWorld(t)
	tests := []struct {
		user, role string
		may        bool
	}{
		{alpha, "EIS", true},
		{gasU, "GIS", true},
		{"00-00-00-00-00-00-0A-03", "EES", true},
		{operator, "ENO", false},
		{"00-00-00-00-00-00-06-01", "GNO", false},
		{"00-00-00-00-00-00-0C-01", "SNA", false},
		{"00-00-00-00-00-00-0F-01", "OU", false},
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			if err := s.Hubs.MayOrder(t.Context(), tc.user); (err == nil) != tc.may {
				t.Fatalf("the hub service says %v", err)
			}
			b := signedIn(t, s, tc.user)
			code, page, _ := b.do("GET", "/ssi/hubs", nil)
			page = html.UnescapeString(page)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			nav, title := ">Communications Hubs</a>", "<h1>Communications Hubs</h1>"
			if !tc.may {
				nav, title = ">Communications Hub charges</a>", "<h1>Communications Hub charges</h1>"
			}
			has := map[string]bool{nav: true, title: true, `id="hub-forecast-form"`: tc.may, `id="hub-order-form"`: tc.may,
				`id="hubs-not-permitted"`: !tc.may, "(para 290, 333); " + tc.user + " is " + tc.role: !tc.may, "Charges for 2026-05": true}
			for w, want := range has {
				if strings.Contains(page, w) != want {
					t.Errorf("the hubs page has %q: %v, want %v", w, !want, want)
				}
			}
			// Every page's navigation reads the same.
			if _, other, _ := b.do("GET", "/ssi/requests", nil); !strings.Contains(other, nav) {
				t.Errorf("the requests page's navigation lacks %s", nav)
			}
			_, fpage, _ := b.do("GET", "/ssi/forecasts", nil)
			if strings.Contains(fpage, `id="hub-forecasts-link"`) != tc.may {
				t.Errorf("the forecasts page's link to hub forecasts: %v, want %v", !tc.may, tc.may)
			}
			forms := []struct {
				path string
				form url.Values
			}{
				{"/ssi/hubs/forecasts", query("month", "2026-08", "variant", "single_band", "quantity", "1")},
				{"/ssi/hubs/orders", query("region", "north", "quantity_single_band", "1")},
			}
			for _, f := range forms {
				code, page, _ := b.hubForm(f.path, f.form)
				if tc.may {
					if code != http.StatusSeeOther {
						t.Errorf("%s: %d, want 303", f.path, code)
					}
					continue
				}
				if code != http.StatusForbidden || !strings.Contains(page, "refused, reason not_permitted: only Suppliers") || strings.Contains(page, `id="hub-order-form"`) {
					t.Errorf("%s: %d\n%s", f.path, code, page)
				}
			}
		})
	}
}

// TestHubFormsGuarded: the hub forms carry the session's CSRF token, and
// are bounded as every form of the SSI (ssi.max_form_bytes: larger is
// refused 413); neither form refused so is acted on.
func TestHubFormsGuarded(t *testing.T) {
	s := hubWorld(t)
	b := signedIn(t, s, alpha)
	limit := int(s.G.Spec().Data()["service_management"].(map[string]any)["ssi"].(map[string]any)["max_form_bytes"].(float64))
	token := b.csrf("/ssi/hubs")
	forecast := query("month", "2026-08", "variant", "single_band", "quantity", "1")
	order := query("region", "north", "quantity_single_band", "1")
	with := func(f url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range f {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		note, path string
		form       url.Values
		code       int
		says       string
	}{
		{"a forecast without the token", "/ssi/hubs/forecasts", forecast, http.StatusForbidden, "CSRF check"},
		{"a forecast with a wrong token", "/ssi/hubs/forecasts", with(forecast, "csrf", strings.Repeat("0", 64)), http.StatusForbidden, "CSRF check"},
		{"an order without the token", "/ssi/hubs/orders", order, http.StatusForbidden, "CSRF check"},
		{"an order with a wrong token", "/ssi/hubs/orders", with(order, "csrf", strings.Repeat("0", 64)), http.StatusForbidden, "CSRF check"},
		{"a forecast too large", "/ssi/hubs/forecasts", with(forecast, "csrf", token, "quantity", strings.Repeat("1", limit)), http.StatusRequestEntityTooLarge, "larger than"},
		{"an order too large", "/ssi/hubs/orders", with(order, "csrf", token, "id", strings.Repeat("x", limit)), http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, page, _ := b.do("POST", tc.path, tc.form)
			if code != tc.code || !strings.Contains(page, tc.says) {
				t.Fatalf("%d, want %d saying %q\n%s", code, tc.code, tc.says, page)
			}
		})
	}
	fs, _ := s.Hubs.Forecasts(t.Context(), alpha)
	os, _ := s.Hubs.Orders(t.Context(), alpha)
	if len(fs) != 1 || len(os) != 1 {
		t.Fatalf("forms refused were acted on: %d forecasts, %d orders", len(fs), len(os))
	}
	// With the token and within the limit, each is taken.
	for _, f := range []struct {
		path string
		form url.Values
	}{{"/ssi/hubs/forecasts", forecast}, {"/ssi/hubs/orders", order}} {
		if code, _, _ := b.do("POST", f.path, with(f.form, "csrf", token)); code != http.StatusSeeOther {
			t.Fatalf("%s: %d", f.path, code)
		}
	}
}
