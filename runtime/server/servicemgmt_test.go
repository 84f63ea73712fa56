package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestServiceAdmin: the DCC publishes a window on the admin listener; a
// request received during it is refused with MAINTENANCE, one after it is
// accepted; a window in protected hours needs the Panel; the DCC declares
// a major incident.
func TestServiceAdmin(t *testing.T) {
	ctx := t.Context()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	s := startAdminDemo(t, 2, start)
	post := func(t *testing.T, path, body string) (int, string) { return adminPost(t, s, path, body) }
	windows := []struct {
		note, body string
		want       int
	}{
		{"at night", `{"id":"MW-1","starts_at":"2026-02-03T01:00:00Z","ends_at":"2026-02-03T03:00:00Z","description":"database upgrade"}`, http.StatusOK},
		{"in protected hours", `{"id":"MW-2","starts_at":"2026-02-03T10:00:00Z","ends_at":"2026-02-03T11:00:00Z","description":"x"}`, http.StatusUnprocessableEntity},
		{"in protected hours, approved", `{"id":"MW-3","starts_at":"2026-02-10T10:00:00Z","ends_at":"2026-02-10T10:30:00Z","description":"x","panel_approval":"PANEL-42"}`, http.StatusOK},
		{"unknown field", `{"id":"MW-4","start":"2026-02-10T10:00:00Z"}`, http.StatusBadRequest},
	}
	for _, tc := range windows {
		t.Run(tc.note, func(t *testing.T) {
			if code, body := post(t, "/servicemgmt/maintenance", tc.body); code != tc.want {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	const alpha, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	read := func(t *testing.T) (string, string, string) {
		t.Helper()
		r, err := s.G.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
		if err != nil {
			t.Fatal(err)
		}
		s.G.WaitIdle(ctx)
		got, err := s.Store.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State, got.Reason, got.Message
	}
	steps := []struct {
		at          time.Time
		state, code string
	}{
		{time.Date(2026, 2, 3, 2, 0, 0, 0, time.UTC), gateway.StateRejected, "MAINTENANCE"},
		{time.Date(2026, 2, 3, 3, 0, 0, 0, time.UTC), gateway.StateAccepted, ""},
	}
	for _, st := range steps {
		if _, err := s.G.Advance(ctx, st.at.Sub(s.G.Now())); err != nil {
			t.Fatal(err)
		}
		state, reason, msg := read(t)
		if state != st.state || reason != st.code || (st.code != "" && !strings.Contains(msg, "MW-1")) {
			t.Fatalf("at %s: %s %s %q", st.at, state, reason, msg)
		}
	}

	// An incident raised by a user, declared major by the DCC and resolved
	// on a Tuesday: its review is due by the end of Thursday (para 235).
	d, err := s.Incidents.Diagnose(ctx, alpha, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Result, "reachable") || !strings.Contains(d.Result, "last contact 2026-02-03T03:00:00Z") {
		t.Fatalf("diagnostic %q", d.Result)
	}
	inc, err := s.Incidents.Raise(ctx, incidents.RaiseInput{Caller: alpha, Category: "1", Area: "data_services", DeviceID: esme, Title: "gateway slow", DiagnosisID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/major", `{"dcc_manager":"Dana","party_manager":""}`)
	var got struct{ Major bool }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || !got.Major {
		t.Fatalf("%d %s", code, body)
	}
	// The raiser, an affected party, hears of it on its stream.
	ds, err := s.Store.Deliveries(ctx, alpha, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 || ds[len(ds)-1].Kind != "notification" || ds[len(ds)-1].Code != "MAJOR_INCIDENT" || !strings.Contains(string(ds[len(ds)-1].Payload), inc.ID) {
		t.Fatalf("no major incident notification on the raiser's stream: %+v", ds)
	}
	if code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/resolve", `{"note":"fixed"}`); code != http.StatusOK || !strings.Contains(body, `"review_due_at":"2026-02-06T00:00:00Z"`) {
		t.Fatalf("%d %s", code, body)
	}
	// The DCC, responsible for it, conducts the review (para 235); the
	// raiser may not.
	if inc.ResponsibleParty != incidents.DCC {
		t.Fatalf("incident of area data_services is %s's, want the DCC's", inc.ResponsibleParty)
	}
	if _, err := s.Incidents.SubmitReview(ctx, alpha, inc.ID, "mine"); err == nil {
		t.Fatal("the raiser submitted the DCC's review")
	}
	if code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/review", `{"note":"root cause: a full disk"}`); code != http.StatusOK || !strings.Contains(body, `"reviewed_at":"2026-02-03T03:00:00Z"`) {
		t.Fatalf("review: %d %s", code, body)
	}
}

// TestDiagnoseCHF: the remote diagnostic sees a hub without power over
// the emulated SMWAN, and refuses a device outside the caller's portfolio.
func TestDiagnoseCHF(t *testing.T) {
	ctx := t.Context()
	s, err := Start(ctx, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SeedDemo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	const alpha, beta, chf, esme = "00-00-00-00-00-00-0A-01", "00-00-00-00-00-00-0B-01", "00-DB-00-00-00-00-C0-01", "00-DB-00-00-00-00-E0-01"
	d, err := s.G.DiagnoseCHF(ctx, alpha, esme)
	if err != nil || !d.Reachable || d.CHF != chf {
		t.Fatalf("%+v %v", d, err)
	}
	// A hub that stops answering over the SMWAN, and answers again.
	if err := s.G.DeviceEvent(ctx, chf, "smwan_down"); err != nil {
		t.Fatal(err)
	}
	if d, err = s.G.DiagnoseCHF(ctx, alpha, esme); err != nil || d.Reachable || !strings.Contains(d.Detail, "does not answer") {
		t.Fatalf("a hub that does not answer: %+v %v", d, err)
	}
	if err := s.G.DeviceEvent(ctx, chf, "smwan_up"); err != nil {
		t.Fatal(err)
	}
	if d, err = s.G.DiagnoseCHF(ctx, alpha, esme); err != nil || !d.Reachable {
		t.Fatalf("the hub answering again: %+v %v", d, err)
	}
	if err := s.G.DeviceEvent(ctx, chf, devices.EventPowerLoss); err != nil {
		t.Fatal(err)
	}
	if d, err = s.G.DiagnoseCHF(ctx, alpha, esme); err != nil || d.Reachable || d.Powered || !strings.Contains(d.Detail, "no power") {
		t.Fatalf("after a power loss: %+v %v", d, err)
	}
	if _, err := s.G.DiagnoseCHF(ctx, beta, esme); !errors.Is(err, gateway.ErrNotVisible) {
		t.Fatalf("another supplier diagnosed alpha's meter: %v", err)
	}
}

// TestServiceAPI: users raise and follow incidents and tickets over the
// API listener, each seeing only its own (para 250, 253-255).
func TestServiceAPI(t *testing.T) {
	ctx := t.Context()
	s, err := Start(ctx, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SeedDemo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	client := func(t *testing.T, name string) *http.Client {
		t.Helper()
		if name == "admin" {
			return pemClient(t, s, s.PKI.Dir, name)
		}
		return userHTTP(t, s, name)
	}
	call := func(t *testing.T, c *http.Client, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, s.URL+ServiceAPIPrefix+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	const alpha, beta = "00-00-00-00-00-00-0A-01", "00-00-00-00-00-00-0B-01"
	a, b := client(t, alpha), client(t, beta)
	if code, _ := call(t, a, "POST", "incidents", `{"category":"2","area":"smwan","title":"x"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("raised without a diagnostic: %d", code)
	}
	_, d := call(t, a, "POST", "diagnose", `{"device_id":"00-DB-00-00-00-00-E0-01"}`)
	code, inc := call(t, a, "POST", "incidents", `{"category":"2","area":"smwan","title":"no data","diagnosis_id":"`+d["id"].(string)+`"}`)
	if code != http.StatusOK || inc["status"] != "allocated" || inc["responsible_party"] != "dcc" {
		t.Fatalf("%d %v", code, inc)
	}
	id := inc["id"].(string)
	tests := []struct {
		note   string
		c      *http.Client
		method string
		path   string
		want   int
	}{
		{"the raiser reads it", a, "GET", "incidents/" + id, http.StatusOK},
		{"another supplier does not", b, "GET", "incidents/" + id, http.StatusNotFound},
		{"another supplier cannot update it", b, "POST", "incidents/" + id + "/update", http.StatusNotFound},
		{"the admin certificate is no user", client(t, "admin"), "GET", "incidents", http.StatusUnauthorized},
	}
	// A diagnostic of a device the caller may not see, or that is not on the
	// inventory, is refused alike, as not found (para 250); one of no
	// device is asked for one (TestServiceManagementRefusals).
	for _, dev := range []string{"00-DB-00-00-00-00-E0-01", "00-DB-FF-FF-FF-FF-FF-FF"} {
		if code, out := call(t, b, "POST", "diagnose", `{"device_id":"`+dev+`"}`); code != http.StatusNotFound || !strings.Contains(fmt.Sprint(out["error"]), "NOT_VISIBLE") {
			t.Errorf("diagnose %q by another supplier: %d %v, want 404 NOT_VISIBLE", dev, code, out)
		}
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if code, _ := call(t, tc.c, tc.method, tc.path, `{"note":"n"}`); code != tc.want {
				t.Fatalf("%d, want %d", code, tc.want)
			}
		})
	}
	if code, tk := call(t, b, "POST", "tickets", `{"kind":"general_query","subject":"hello"}`); code != http.StatusOK || tk["is_user"] != true {
		t.Fatalf("%d %v", code, tk)
	}
}

// TestPortfolioByIndex: the SSI's portfolio by index is the gateway's
// portfolio by scan, for each demo user.
func TestPortfolioByIndex(t *testing.T) {
	ctx := t.Context()
	s, err := Start(ctx, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SeedDemo(ctx, 3); err != nil {
		t.Fatal(err)
	}
	raw := s.Store.(interface{ Unwrap() store.Store }).Unwrap()
	rep := raw.(store.Reporting)
	nonEmpty := 0
	t.Cleanup(func() {
		if nonEmpty < 4 {
			t.Errorf("only %d demo users have a portfolio", nonEmpty)
		}
	})
	for _, u := range DemoUsers {
		t.Run(u.ID+" "+u.Role, func(t *testing.T) {
			scan, err := s.G.Portfolio(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			byIndex, err := portfolioOf(ctx, raw, rep, s.G, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			ids := func(ds []store.Device) []string {
				var out []string
				for _, d := range ds {
					out = append(out, d.ID)
				}
				slices.Sort(out)
				return out
			}
			if len(scan) > 0 {
				nonEmpty++
			}
			if !slices.Equal(ids(scan), ids(byIndex)) {
				t.Fatalf("scan %v\nindex %v", ids(scan), ids(byIndex))
			}
		})
	}
}

// TestAdminSuspendsUsersAndClosesIncidents: on the admin listener the DCC
// suspends a user's rights (Section M8): its schedules go (para 125) and its
// requests are refused USER_SUSPENDED until it is reinstated; and it closes
// the incidents it is responsible for (para 228).
func TestAdminSuspendsUsersAndClosesIncidents(t *testing.T) {
	ctx, s := t.Context(), startAdminDemo(t, 1, time.Time{})
	const alpha, esme = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	post := func(t *testing.T, path, body string) (int, string) { return adminPost(t, s, path, body) }
	submit := func(t *testing.T, req engine.Request) store.Request {
		t.Helper()
		req.UserID, req.DeviceID = alpha, esme
		r, err := s.G.Submit(ctx, alpha, &req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := submit(t, engine.Request{Service: "5.1", Schedule: &engine.Schedule{Service: "4.8", Every: 24 * time.Hour}}); r.State == gateway.StateRejected {
		t.Fatalf("5.1: %s %s", r.Reason, r.Message)
	}
	s.G.WaitIdle(ctx)
	if code, body := post(t, "/users/"+alpha+"/suspend", ""); code != http.StatusOK {
		t.Fatalf("suspend: %d %s", code, body)
	}
	if n, err := s.G.Store().ListSchedules(ctx, store.ScheduleFilter{UserID: alpha}); err != nil || len(n) != 0 {
		t.Fatalf("schedules of a suspended user: %v %v", n, err)
	}
	if r := submit(t, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}); r.Reason != "USER_SUSPENDED" {
		t.Fatalf("a suspended user's request: %s %s", r.State, r.Reason)
	}
	if code, body := post(t, "/users/"+alpha+"/reinstate", ""); code != http.StatusOK {
		t.Fatalf("reinstate: %d %s", code, body)
	}
	if r := submit(t, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}); r.State == gateway.StateRejected {
		t.Fatalf("a reinstated user's request: %s %s", r.Reason, r.Message)
	}
	if code, _ := post(t, "/users/00-00-00-00-00-00-0A-99/suspend", ""); code != http.StatusNotFound {
		t.Fatalf("suspending no one: %d", code)
	}

	// An SMWAN incident, the DCC's: it resolves and closes it.
	d, err := s.Incidents.Diagnose(ctx, alpha, "chf_reachability", esme)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := s.Incidents.Raise(ctx, incidents.RaiseInput{Caller: alpha, Category: "2", Area: "smwan", DeviceID: esme, Title: "no data", DiagnosisID: d.ID})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/allocate", `{"user_id":"`+alpha+`"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("allocated one already allocated: %d %s", code, body)
	}
	if code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/close", `{"note":"early"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("closed before resolution: %d %s", code, body)
	}
	for _, step := range []string{"resolve", "close"} {
		if code, body := post(t, "/servicemgmt/incidents/"+inc.ID+"/"+step, `{"note":"done"}`); code != http.StatusOK {
			t.Fatalf("%s: %d %s", step, code, body)
		}
	}
	if got, _, err := s.Incidents.Get(ctx, incidents.DCC, inc.ID); err != nil || got.Status != incidents.StatusClosed {
		t.Fatalf("%+v %v", got, err)
	}
}

// adminPost posts a JSON body to the server's admin listener and returns
// the status and the body of the answer.
// startAdminDemo starts a virtual-clock gateway (at start; zero: its
// default) with an admin listener and the demo world of premises premises.
func startAdminDemo(t *testing.T, premises int, start time.Time) *Server {
	t.Helper()
	s, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", VirtualClock: true, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SeedDemo(t.Context(), premises); err != nil {
		t.Fatal(err)
	}
	return s
}

func adminPost(t *testing.T, s *Server, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.AdminURL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminEntersUsers: User Entry on a running gateway (para 116, 281):
// a user whose certificate `keys new` issued is entered by its ID and
// role, and its requests are no longer UNKNOWN_USER; a second role for the
// same ID (para 117), a role the spec does not know and an ID that is not
// an EUI-64 are refused.
func TestAdminEntersUsers(t *testing.T) {
	ctx, s := t.Context(), startAdminDemo(t, 1, time.Time{})
	const newcomer, esme = "00-00-00-00-00-00-0F-09", "00-DB-00-00-00-00-E0-01"
	iss, err := s.PKI.CA.IssueUser(newcomer, "OU")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.PKI.Dir, "users"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.PKI.Dir, "users", newcomer+".pem"), iss.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	read := func() store.Request {
		t.Helper()
		r, err := s.G.Submit(ctx, newcomer, &engine.Request{UserID: newcomer, DeviceID: esme, Service: "8.2"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(); r.Reason != "UNKNOWN_USER" {
		t.Fatalf("before User Entry: %s %s, want UNKNOWN_USER", r.State, r.Reason)
	}
	if code, body := adminPost(t, s, "/users", `{"id":"`+newcomer+`","role":"OU","party":"Insights"}`); code != http.StatusOK {
		t.Fatalf("enter: %d %s", code, body)
	}
	if r := read(); r.State == gateway.StateRejected {
		t.Fatalf("after User Entry: %s %s %s", r.State, r.Reason, r.Message)
	}
	for _, body := range []string{
		`{"id":"` + newcomer + `","role":"EIS"}`, // a second role
		`{"id":"00-00-00-00-00-00-0F-0A","role":"XX","cert_pem":"` + strings.ReplaceAll(string(iss.CertPEM), "\n", `\n`) + `"}`,
		`{"id":"alice","role":"OU","cert_pem":"` + strings.ReplaceAll(string(iss.CertPEM), "\n", `\n`) + `"}`,
		`{"id":"00-00-00-00-00-00-0F-0B","role":"OU"}`, // no certificate
	} {
		if code, out := adminPost(t, s, "/users", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, code, out)
		}
	}
	// With no certificate, the answer says how to get one.
	if _, out := adminPost(t, s, "/users", `{"id":"00-00-00-00-00-00-0F-0B","role":"OU"}`); !strings.Contains(out, "no certificate") || !strings.Contains(out, "dccgate keys new --user 00-00-00-00-00-00-0F-0B --role OU") {
		t.Errorf("no certificate: %s", out)
	}
}
