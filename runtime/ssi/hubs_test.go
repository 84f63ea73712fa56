package ssi_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
)

const (
	hub1 = "00-DB-00-00-01-00-C0-01"
	hub2 = "00-DB-00-00-01-00-C0-02"
)

// hubWorld: on the demo world (4 May 2026), alpha orders two 2.4 GHz hubs
// and forecasts four dual band ones for July; the DCC delivers the order;
// hub 1's CHF joins the SMWAN that day, hub 2 stays in alpha's store. The
// clock then moves to 1 June, so May has ended.
func hubWorld(t *testing.T) *server.Server {
	t.Helper()
	ctx := t.Context()
	s := startDemo(t, 0)
	if _, err := s.Hubs.Forecast(ctx, alpha, store.HubForecast{Month: "2026-07", Variant: "dual_band", Quantity: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hubs.Order(ctx, alpha, hubsvc.OrderInput{ID: "O-ALPHA-1", Region: "south", Lines: []store.HubOrderLine{{Variant: "single_band", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hubs.Deliver(ctx, "O-ALPHA-1", []hubsvc.DeliveredHub{{ID: hub1, Variant: "single_band"}, {ID: hub2, Variant: "single_band"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.G.DeviceEvent(ctx, hub1, "wan_connected"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.G.Advance(ctx, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC).Sub(s.G.Now())); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHubPages: a Supplier sees its hub forecasts, orders, deliveries, the
// forms to forecast and order, and its May charges; a network operator
// its May charges only, and why (compared with testdata/hubs*.golden.html;
// regenerate with -update).
func TestHubPages(t *testing.T) {
	s := hubWorld(t)
	b := signedIn(t, s, alpha)
	browsers := map[string]*browser{alpha: b, operator: signedIn(t, s, operator)}
	token := regexp.MustCompile(`name="csrf" value="[0-9a-f]+"`)
	pages := []struct {
		name, user, path string
		// want: May's charges to alpha. Enrolled systems of the demo
		// world: alpha 4 MPANs, its gas and export users 4 each, so alpha
		// holds 4 of 12. Hub 1 installed: 47p (5555p over 120 months, the
		// first 35 months 47p) smeared, 47/3 = 15.67 -> 15 each and the 2
		// pence left to the two smallest IDs of the tie: alpha 16. Hub 2
		// not installed: its 47p to alpha, the receiving supplier.
		// Maintenance 23p from hub 1's commissioning: 7.67 -> alpha 8.
		// The float: 3 x (47+47) = 282p shared by finance charges (alpha
		// 47+16 = 63 of 94): 282 x 63/94 = 189.
		want []string
	}{
		{"hubs", alpha, "/ssi/hubs?month=2026-05", []string{"O-ALPHA-1", "2 &times; 2.4 GHz", "<td>2026-07</td><td>Dual band (2.4 GHz and 868 MHz)</td><td>4</td>",
			"<td>0.16</td>", "<td>0.47</td>", "<td>0.08</td>", "<td>1.89</td>", hub2, "4/12"}},
		{"hub-order", alpha, "/ssi/hubs/orders/O-ALPHA-1", []string{hub1, hub2, "2026-05-04 09:00:00", "Southern region (Telefónica)"}},
		{"hubs-operator", operator, "/ssi/hubs?month=2026-05", []string{"Communications Hub charges", "is ENO"}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			code, page, _ := browsers[p.user].do("GET", p.path, nil)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			for _, w := range p.want {
				if !strings.Contains(page, w) {
					t.Errorf("%s lacks %q", p.path, w)
				}
			}
			got := token.ReplaceAllString(page, `name="csrf" value="CSRF"`)
			file := filepath.Join("testdata", p.name+".golden.html")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("%s differs from %s (regenerate with -update if intended):\n%s", p.path, file, got)
			}
		})
	}
	// A month malformed, or one whose times the store cannot hold (0000-01
	// showed an empty statement), is refused naming the form and range
	// (TestMonthRule: the range is that of the reports page too).
	for _, month := range []string{"May", "0000-01", "2262-04", "1677-09"} {
		t.Run("month "+month, func(t *testing.T) {
			code, page, _ := b.do("GET", "/ssi/hubs?month="+month, nil)
			if code != http.StatusBadRequest || !strings.Contains(page, "The month is YYYY-MM, from ") {
				t.Fatalf("%d %s", code, page)
			}
		})
	}
}

// TestHubIsolation: another Supplier cannot open alpha's hub order by URL
// and sees none of alpha's orders or hubs on its own hubs page (para 250).
func TestHubIsolation(t *testing.T) {
	s := hubWorld(t)
	owner, other := newBrowser(t, s, ""), newBrowser(t, s, "")
	if owner.signIn(s, alpha, alpha) != http.StatusSeeOther || other.signIn(s, beta, beta) != http.StatusSeeOther {
		t.Fatal("sign-in failed")
	}
	if code, _, _ := owner.do("GET", "/ssi/hubs/orders/O-ALPHA-1", nil); code != http.StatusOK {
		t.Fatalf("owner: %d", code)
	}
	code, page, _ := other.do("GET", "/ssi/hubs/orders/O-ALPHA-1", nil)
	if code != http.StatusNotFound || strings.Contains(page, hub1) {
		t.Fatalf("another supplier opened alpha's order: %d", code)
	}
	for _, p := range []string{"/ssi/hubs", "/ssi/hubs?month=2026-05", "/ssi/hubs?month=2026-06"} {
		code, page, _ := other.do("GET", p, nil)
		if code != http.StatusOK || strings.Contains(page, "O-ALPHA-1") || strings.Contains(page, hub1) || strings.Contains(page, hub2) {
			t.Fatalf("%s shows alpha's hubs to beta: %d", p, code)
		}
	}
}

// TestHubNotInstalledIsTheSuppliers: a hub delivered and not yet installed
// relates to no MPxN, yet only the Supplier it was delivered to may run
// the remote diagnostic on it (para 250); another Supplier may not.
func TestHubNotInstalledIsTheSuppliers(t *testing.T) {
	s := hubWorld(t)
	ctx := t.Context()
	if _, err := s.G.DiagnoseCHF(ctx, alpha, hub2); err != nil {
		t.Fatalf("the supplier it was delivered to: %v", err)
	}
	if _, err := s.G.DiagnoseCHF(ctx, beta, hub2); !errors.Is(err, gateway.ErrNotVisible) {
		t.Fatalf("another supplier: %v, want %v", err, gateway.ErrNotVisible)
	}
}
