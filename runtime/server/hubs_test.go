package server

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestHubsThroughGateway: Suppliers order Communications Hubs over the
// API, the DCC delivers them on the admin listener (their CHFs join the
// inventory), the hubs are installed and their CHFs commissioned on the
// emulated SMWAN, one is removed; the month's charges come from those
// records, with market shares from the gateway's enrolled systems. Each
// Supplier sees only its own.
func TestHubsThroughGateway(t *testing.T) {
	ctx := t.Context()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	s := startAdminDemo(t, 2, start)
	const (
		alpha, beta   = "00-00-00-00-00-00-0A-01", "00-00-00-00-00-00-0B-01" // electricity import suppliers
		alphaGas      = "00-00-00-00-00-00-0A-02"
		alphaExport   = "00-00-00-00-00-00-0A-03"
		other         = "00-00-00-00-00-00-0F-01" // an Other User
		ha1, ha2, ha3 = "00-DB-00-00-01-00-C0-01", "00-DB-00-00-01-00-C0-02", "00-DB-00-00-01-00-C0-03"
		hb1           = "00-DB-00-00-02-00-C0-01"
	)
	// Premises 2's electricity moves to Beta, so that Beta has a market
	// share. Enrolled systems per Supplier (import or export, para 408):
	// alpha 1 (MPAN 1), beta 1 (MPAN 2), alphaExport 2, alphaGas 2 (the
	// MPRNs): 6 in all.
	if err := s.Store.PutRegistration(ctx, store.Registration{MPxN: "19" + strings.Repeat("0", 10) + "2", Fuel: "electricity",
		ImportSupplier: beta, ExportSupplier: alphaExport, NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "SW1H 0ET", Premises: "2", UPRN: "100002"}); err != nil {
		t.Fatal(err)
	}
	client := func(t *testing.T, name string) *http.Client { return userHTTP(t, s, name) }
	call := func(t *testing.T, c *http.Client, method, url, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil && resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, url, err, b)
			}
		}
		return resp.StatusCode
	}
	a, b, ou := client(t, alpha), client(t, beta), client(t, other)
	api := func(path string) string { return s.URL + HubsAPIPrefix + path }
	admin := func(path string) string { return s.AdminURL + path }
	at := func(t *testing.T, when time.Time) {
		t.Helper()
		if _, err := s.G.Advance(ctx, when.Sub(s.G.Now())); err != nil {
			t.Fatal(err)
		}
	}
	wan := func(t *testing.T, hub string) {
		t.Helper()
		if err := s.G.DeviceEvent(ctx, hub, "wan_connected"); err != nil {
			t.Fatal(err)
		}
	}

	// Forecasts and orders, over the API (5 January).
	refusals := []struct {
		note string
		c    *http.Client
		path string
		body string
		want int
	}{
		{"an Other User orders", ou, "orders", `{"lines":[{"variant":"single_band","quantity":1}]}`, http.StatusForbidden},
		{"an unknown HAN variant", a, "orders", `{"lines":[{"variant":"5g","quantity":1}]}`, http.StatusUnprocessableEntity},
		{"a quantity of 0", a, "orders", `{"lines":[{"variant":"single_band","quantity":0}]}`, http.StatusUnprocessableEntity},
		{"an unknown field", a, "orders", `{"lines":[],"colour":"red"}`, http.StatusBadRequest},
		{"a forecast of an unknown month", a, "forecasts", `{"month":"2026-13","variant":"single_band","quantity":3}`, http.StatusUnprocessableEntity},
	}
	for _, tc := range refusals {
		t.Run(tc.note, func(t *testing.T) {
			if code := call(t, tc.c, "POST", api(tc.path), tc.body, nil); code != tc.want {
				t.Fatalf("%d, want %d", code, tc.want)
			}
		})
	}
	if code := call(t, a, "POST", api("forecasts"), `{"month":"2026-03","variant":"dual_band","quantity":4}`, nil); code != http.StatusOK {
		t.Fatalf("forecast: %d", code)
	}
	if code := call(t, a, "POST", api("orders"), `{"id":"O-A","region":"south","lines":[{"variant":"single_band","quantity":2},{"variant":"dual_band","quantity":1}]}`, nil); code != http.StatusOK {
		t.Fatalf("alpha's order: %d", code)
	}
	if code := call(t, b, "POST", api("orders"), `{"id":"O-B","region":"south","lines":[{"variant":"single_band","quantity":1}]}`, nil); code != http.StatusOK {
		t.Fatalf("beta's order: %d", code)
	}

	// The DCC delivers (5 January): a batch per order; more hubs of a
	// variant than ordered, or an order delivered twice, are refused.
	deliveries := []struct {
		note, order, body string
		want              int
	}{
		{"too many dual band", "O-A", `{"hubs":[{"id":"` + ha1 + `","variant":"dual_band"},{"id":"` + ha3 + `","variant":"dual_band"}]}`, http.StatusUnprocessableEntity},
		{"alpha's", "O-A", `{"hubs":[{"id":"` + ha1 + `","variant":"single_band"},{"id":"` + ha2 + `","variant":"single_band"},{"id":"` + ha3 + `","variant":"dual_band"}]}`, http.StatusOK},
		{"alpha's again", "O-A", `{"hubs":[{"id":"00-DB-00-00-01-00-C0-09","variant":"single_band"}]}`, http.StatusConflict},
		{"a hub already delivered", "O-B", `{"hubs":[{"id":"` + ha1 + `","variant":"single_band"}]}`, http.StatusConflict},
		{"beta's", "O-B", `{"hubs":[{"id":"` + hb1 + `","variant":"single_band"}]}`, http.StatusOK},
		{"no such order", "O-Z", `{"hubs":[{"id":"X","variant":"single_band"}]}`, http.StatusNotFound},
	}
	for _, tc := range deliveries {
		t.Run("delivery "+tc.note, func(t *testing.T) {
			if code := call(t, http.DefaultClient, "POST", admin("/hubs/orders/"+tc.order+"/delivery"), tc.body, nil); code != tc.want {
				t.Fatalf("%d, want %d", code, tc.want)
			}
		})
	}
	// Each delivered hub is a CHF on the inventory, Pending (spec
	// hubs.lifecycle.delivered).
	for _, id := range []string{ha1, ha2, ha3, hb1} {
		d, err := s.Store.GetDevice(ctx, id)
		if err != nil || d.Type != "CHF" || d.Status != s.G.Spec().Hubs.Lifecycle["delivered"] {
			t.Fatalf("CHF %s on the inventory: %+v %v", id, d, err)
		}
	}

	// Installation (10 January): HA1's CHF joins the SMWAN and is
	// commissioned (para 185); HA2 is installed and left (8.4 would set it
	// Installed Not Commissioned), commissioned on 3 February. HA3 is
	// commissioned on 12 January and removed, no fault found, on 20
	// January. Beta's HB1 stays in its store.
	at(t, time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC))
	wan(t, ha1)
	if err := s.Store.SetDeviceStatus(ctx, ha2, "pending", "installed_not_commissioned", s.G.Now()); err != nil {
		t.Fatal(err)
	}
	at(t, time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC))
	wan(t, ha3)
	if d, _ := s.Store.GetDevice(ctx, ha1); d.Status != "commissioned" {
		t.Fatalf("HA1 after joining the SMWAN: %+v", d)
	}
	at(t, time.Date(2026, 1, 20, 10, 0, 0, 0, time.UTC))
	removals := []struct {
		note string
		c    *http.Client
		hub  string
		body string
		want int
	}{
		{"by a Supplier it does not concern", b, ha3, `{"reason":"no_fault_found"}`, http.StatusNotFound},
		{"with an unknown reason", a, ha3, `{"reason":"bored"}`, http.StatusUnprocessableEntity},
		{"no fault found", a, ha3, `{"reason":"no_fault_found"}`, http.StatusOK},
		{"twice", a, ha3, `{"reason":"no_fault_found"}`, http.StatusConflict},
	}
	for _, tc := range removals {
		t.Run("removal "+tc.note, func(t *testing.T) {
			if code := call(t, tc.c, "POST", api("hubs/"+tc.hub+"/removal"), tc.body, nil); code != tc.want {
				t.Fatalf("%d, want %d", code, tc.want)
			}
		})
	}
	if d, _ := s.Store.GetDevice(ctx, ha3); d.Status != s.G.Spec().Hubs.Lifecycle["removed"] {
		t.Fatalf("HA3's CHF after removal: %+v", d)
	}
	at(t, time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC))
	wan(t, ha2)

	// What each Supplier sees of its orders and hubs.
	var orders []struct {
		ID   string
		Hubs []store.Hub
	}
	if code := call(t, a, "GET", api("orders"), "", &orders); code != http.StatusOK || len(orders) != 1 || orders[0].ID != "O-A" || len(orders[0].Hubs) != 3 {
		t.Fatalf("alpha's orders: %d %+v", code, orders)
	}
	for _, h := range orders[0].Hubs {
		want := map[string][3]string{ // installed, commissioned, removed
			ha1: {"2026-01-10", "2026-01-10", ""},
			ha2: {"2026-01-10", "2026-02-03", ""},
			ha3: {"2026-01-12", "2026-01-12", "2026-01-20"},
		}[h.ID]
		got := [3]string{dayOf(h.InstalledAt), dayOf(h.CommissionedAt), dayOf(h.RemovedAt)}
		if got != want || h.Installer != alpha {
			t.Fatalf("hub %s: %v by %s, want %v by alpha", h.ID, got, h.Installer, want)
		}
	}
	if code := call(t, b, "GET", api("orders/O-A"), "", nil); code != http.StatusNotFound {
		t.Fatalf("beta opened alpha's order: %d", code)
	}
	var bHubs []store.Hub
	if code := call(t, b, "GET", api("hubs"), "", &bHubs); code != http.StatusOK || len(bHubs) != 1 || bHubs[0].ID != hb1 {
		t.Fatalf("beta's hubs: %d %+v", code, bHubs)
	}

	// The charges of January and February, from these records. Each hub
	// costs 5555p over 120 months: floor(5555/120) = 46, 5555 mod 120 = 35,
	// so months 1-35 of its life are 47p.
	at(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	type line struct {
		Kind   string
		Amount int64 `json:"amount_pence"`
		Hubs   []string
	}
	charges := func(t *testing.T, c *http.Client, month string) map[string]line {
		t.Helper()
		var st struct {
			Provisional bool
			Invoices    []struct {
				Party string
				Lines []line
			}
		}
		if code := call(t, c, "GET", api("charges?month="+month), "", &st); code != http.StatusOK || st.Provisional {
			t.Fatalf("charges %s: %d %+v", month, code, st)
		}
		out := map[string]line{}
		for _, inv := range st.Invoices {
			for _, l := range inv.Lines {
				out[l.Kind] = l
			}
		}
		return out
	}
	type want struct {
		amount int64
		hubs   []string
	}
	cases := []struct {
		note  string
		c     *http.Client
		month string
		want  map[string]want
	}{
		// January. Installed in January: HA1, HA2 (47p each) -> the
		// asset_installed pool of 94p, smeared by enrolled systems 1:1:2:2
		// (alpha, beta, alphaGas, alphaExport): 94/6 = 15.67 -> floors
		// 15, 15, 31, 31 = 92, the 2 pence left to the largest remainders
		// (.67 alpha, .67 beta): 16, 16, 31, 31. Maintenance from
		// commissioning: HA1 (HA3 is removed in the month) 23p -> 23/6:
		// floors 3, 3, 7, 7 = 20, 3 pence to alpha (.83), beta (.83),
		// alphaGas (.67, the smaller ID of the tie): 4, 4, 8, 7. HA3's
		// dual band differential, 850p, to its receiving supplier. HA3
		// removed in its first month, no fault found: 80% of the whole
		// 5555p = 4444p to the removing supplier (1111p written off by
		// the CSP). The float: recurring finance charges 47 (HB1) + 94 =
		// 141, target 3 x 141 = 423, opening 0, so 423 is topped up,
		// shared by the month's finance charges: alpha 16+850+4444 =
		// 5310, beta 47+16 = 63, alphaGas 31, alphaExport 31 (5435):
		// alpha 423x5310/5435 = 413.27, beta 4.90, the others 2.41 ->
		// floors 413, 4, 2, 2 = 421, 2 pence to beta (.90) and alphaGas
		// (.41, the tie's smaller ID): alpha 413, beta 5.
		{"alpha, January", a, "2026-01", map[string]want{
			"asset_installed":  {16, []string{ha1, ha2}},
			"maintenance":      {4, []string{ha1}},
			"han_differential": {850, []string{ha3}},
			"remaining_asset":  {4444, []string{ha3}},
			"float_top_up":     {413, nil},
		}},
		// Beta: its undelivered-to-site HB1 (47p), its shares as above;
		// the smeared lines name none of alpha's hubs.
		{"beta, January", b, "2026-01", map[string]want{
			"asset_not_installed": {47, []string{hb1}},
			"asset_installed":     {16, nil},
			"maintenance":         {4, nil},
			"float_top_up":        {5, nil},
		}},
		// February: HA1, HA2 installed -> 94p smeared as in January (16);
		// maintenance HA1 and HA2 (commissioned 3 February) 46p -> 46/6 =
		// 7.67: floors 7, 7, 15, 15 = 44, 2 pence to alpha and beta (.67):
		// 8, 8, 15, 15. Float: recurring 141 again, target 423 held
		// already: no top up.
		{"alpha, February", a, "2026-02", map[string]want{
			"asset_installed": {16, []string{ha1, ha2}},
			"maintenance":     {8, []string{ha1, ha2}},
		}},
		{"beta, February", b, "2026-02", map[string]want{
			"asset_not_installed": {47, []string{hb1}},
			"asset_installed":     {16, nil},
			"maintenance":         {8, nil},
		}},
	}
	for _, tc := range cases {
		t.Run("charges "+tc.note, func(t *testing.T) {
			got := charges(t, tc.c, tc.month)
			if len(got) != len(tc.want) {
				t.Errorf("lines %v, want kinds %v", got, tc.want)
			}
			for kind, w := range tc.want {
				l := got[kind]
				if l.Amount != w.amount || !slices.Equal(l.Hubs, w.hubs) {
					t.Errorf("%s: %d %v, want %d %v", kind, l.Amount, l.Hubs, w.amount, w.hubs)
				}
			}
		})
	}
	// The DCC's whole statement agrees: January's pools and the CSP's
	// write-off.
	var full hubs.Statement
	if code := call(t, http.DefaultClient, "GET", admin("/hubs/charges?month=2026-01"), "", &full); code != http.StatusOK {
		t.Fatalf("the DCC's statement: %d", code)
	}
	if full.Float.TopUp != 423 || len(full.Removals) != 1 || full.Removals[0].WrittenOff != 1111 || full.Removals[0].Category != "no_fault_found" {
		t.Fatalf("float %+v removals %+v", full.Float, full.Removals)
	}
	if code := call(t, a, "GET", api("charges"), "", nil); code != http.StatusBadRequest {
		t.Fatalf("charges without a month: %d", code)
	}

	// Alpha does not pay its January finance invoice: 16 + 850 + 4444 +
	// 413 = 5723p. The float (423p) is drawn in January; in February the
	// debt is shared by the other users' January finance charges before
	// the float (beta 63, alphaGas 31, alphaExport 31; 125): beta
	// 5723x63/125 = 2884.39, the others 1419.30 -> floors 2884, 1419,
	// 1419 = 5722, the penny left to beta (.39): 2885.
	unpaid := []struct {
		note, body string
		want       int
	}{
		{"a month not ended", `{"party":"` + alpha + `","month":"2026-03","invoice":"finance"}`, http.StatusUnprocessableEntity},
		{"the CSP's statement", `{"party":"` + alpha + `","month":"2026-01","invoice":"csp"}`, http.StatusUnprocessableEntity},
		{"alpha's January finance invoice", `{"party":"` + alpha + `","month":"2026-01","invoice":"finance"}`, http.StatusOK},
	}
	for _, tc := range unpaid {
		t.Run("unpaid "+tc.note, func(t *testing.T) {
			if code := call(t, http.DefaultClient, "POST", admin("/hubs/defaults"), tc.body, nil); code != tc.want {
				t.Fatalf("%d, want %d", code, tc.want)
			}
		})
	}
	if code := call(t, http.DefaultClient, "GET", admin("/hubs/charges?month=2026-01"), "", &full); code != http.StatusOK {
		t.Fatalf("the DCC's statement: %d", code)
	}
	if len(full.Defaults) != 1 || full.Defaults[0].Unpaid != 5723 || full.Defaults[0].FloatDraw != 423 || full.Float.Closing != 0 {
		t.Fatalf("January's defaults %+v, float %+v", full.Defaults, full.Float)
	}
	if got := charges(t, b, "2026-02")["bad_debt"]; got.Amount != 2885 {
		t.Fatalf("beta's share of alpha's bad debt: %+v, want 2885", got)
	}
	if _, ok := charges(t, a, "2026-02")["bad_debt"]; ok {
		t.Fatal("alpha shares its own bad debt")
	}
}

func dayOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}
