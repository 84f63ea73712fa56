package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/incidents"
)

// TestIncidentPartiesOverTheAPI: on a running gateway, of the premises
// whose electricity import (alpha), export and gas suppliers share one
// hub, an incident the gas supplier raises about its own gas meter is
// listed to and read by no other supplier; one about the shared hub is,
// and the lead supplier it is allocated to is told on its stream
// (INCIDENT_ALLOCATED, para 224, 227, 229-231, 250). The DCC recategorises
// an incident on the admin listener (para 224), the parties told
// (INCIDENT_RECATEGORISED); a user cannot; a closed incident takes no
// update and no new category.
func TestIncidentPartiesOverTheAPI(t *testing.T) {
	ctx, s := t.Context(), startAdminDemo(t, 1, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	const (
		alpha  = "00-00-00-00-00-00-0A-01" // electricity import
		gasSup = "00-00-00-00-00-00-0A-02"
		export = "00-00-00-00-00-00-0A-03"
		beta   = "00-00-00-00-00-00-0B-01" // of no premises
		chf    = "00-DB-00-00-00-00-C0-01"
		gsme   = "00-DB-00-00-00-00-6A-01"
	)
	clients := map[string]*http.Client{}
	for _, u := range []string{alpha, gasSup, export, beta} {
		clients[u] = userHTTP(t, s, u)
	}
	api := func(t *testing.T, user, method, path, body string) (int, map[string]any) {
		t.Helper()
		code, b := smCall(t, clients[user], method, s.URL+ServiceAPIPrefix+path, body)
		var out map[string]any
		_ = json.Unmarshal([]byte(b), &out)
		if out == nil {
			out = map[string]any{"list": b}
		}
		return code, out
	}
	raise := func(t *testing.T, user, area, device string, visit bool) string {
		t.Helper()
		code, d := api(t, user, "POST", "diagnose", `{"device_id":"`+device+`"}`)
		if code != http.StatusOK {
			t.Fatalf("diagnose %s: %d %v", device, code, d)
		}
		v, _ := json.Marshal(visit)
		code, inc := api(t, user, "POST", "incidents", `{"category":"5","area":"`+area+`","device_id":"`+device+`","title":"no data","needs_visit":`+string(v)+`,"diagnosis_id":"`+d["id"].(string)+`"}`)
		if code != http.StatusOK {
			t.Fatalf("raise %s: %d %v", area, code, inc)
		}
		return inc["id"].(string)
	}
	notices := func(t *testing.T, user, event string) []map[string]any {
		t.Helper()
		ds, err := s.Store.Deliveries(ctx, user, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, d := range ds {
			if d.Kind == "notification" && d.Code == event {
				var p map[string]any
				if err := json.Unmarshal(d.Payload, &p); err != nil {
					t.Fatal(err)
				}
				out = append(out, p)
			}
		}
		return out
	}

	meter := raise(t, gasSup, "smart_meter", gsme, false) // the gas supplier's own
	hub := raise(t, gasSup, "visit", chf, true)           // the lead supplier's: alpha's
	tests := []struct {
		note, user, id string
		sees           bool
	}{
		{"the gas supplier its meter's", gasSup, meter, true},
		{"the electricity supplier not the gas meter's", alpha, meter, false},
		{"the export supplier not the gas meter's", export, meter, false},
		{"a supplier of other premises not the gas meter's", beta, meter, false},
		{"the gas supplier the hub's it raised", gasSup, hub, true},
		{"the electricity supplier the hub's, allocated to it", alpha, hub, true},
		{"the export supplier the hub's, sharing it", export, hub, true},
		{"a supplier of other premises not the hub's", beta, hub, false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, _ := api(t, tc.user, "GET", "incidents/"+tc.id, "")
			if (code == http.StatusOK) != tc.sees || (!tc.sees && code != http.StatusNotFound) {
				t.Fatalf("read: %d, sees %v", code, tc.sees)
			}
			_, list := api(t, tc.user, "GET", "incidents", "")
			if listed := strings.Contains(list["list"].(string), tc.id); listed != tc.sees {
				t.Fatalf("listed %v, want %v", listed, tc.sees)
			}
		})
	}
	if got := notices(t, alpha, incidents.NoticeAllocated); len(got) != 1 || got[0]["incident"] != hub || got[0]["state"] != "notification" || !strings.Contains(got[0]["message"].(string), "allocated to you") {
		t.Fatalf("alpha's INCIDENT_ALLOCATED notices: %v", got)
	}
	if got := notices(t, gasSup, incidents.NoticeAllocated); len(got) != 0 {
		t.Fatalf("the raiser, responsible for its own meter, told: %v", got)
	}

	// The DCC recategorises the hub's incident; a user may not.
	if code, out := api(t, gasSup, "POST", "incidents/"+hub+"/recategorise", `{"note":"1"}`); code != http.StatusNotFound {
		t.Fatalf("a user's recategorisation: %d %v", code, out)
	}
	code, body := adminPost(t, s, "/servicemgmt/incidents/"+hub+"/recategorise", `{"category":"1","note":"many premises"}`)
	want := s.G.Spec().ServiceManagement.Incidents.Categories["1"]
	if code != http.StatusOK || smField(t, body, "category") != "1" || smField(t, body, "priority") != want.Priority {
		t.Fatalf("recategorise: %d %s", code, body)
	}
	for _, u := range []string{gasSup, alpha} {
		if got := notices(t, u, incidents.NoticeRecategorised); len(got) != 1 || got[0]["previous_category"] != "5" || got[0]["category"] != "1" {
			t.Fatalf("%s's INCIDENT_RECATEGORISED notices: %v", u, got)
		}
	}
	if code, body := adminPost(t, s, "/servicemgmt/incidents/"+hub+"/recategorise", `{"category":"9"}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "INVALID") {
		t.Fatalf("an unknown category: %d %s", code, body)
	}
	_, inc := api(t, gasSup, "GET", "incidents/"+hub, "")
	tl, _ := inc["timeline"].([]any)
	if last, _ := tl[len(tl)-1].(map[string]any); last["kind"] != "recategorised" || !strings.Contains(last["note"].(string), "from category 5") {
		t.Fatalf("timeline %v", tl)
	}

	// Closed, it takes no update (a note was stored, answered 303 by the
	// SSI) and no new category.
	for _, step := range []string{"resolve", "close"} {
		if code, out := api(t, alpha, "POST", "incidents/"+hub+"/"+step, `{"note":"done"}`); code != http.StatusOK {
			t.Fatalf("%s: %d %v", step, code, out)
		}
	}
	if code, out := api(t, gasSup, "POST", "incidents/"+hub+"/update", `{"note":"after the fact"}`); code != http.StatusUnprocessableEntity || !strings.Contains(out["error"].(string), "TRANSITION_NOT_ALLOWED") {
		t.Fatalf("an update of a closed incident: %d %v", code, out)
	}
	if code, body := adminPost(t, s, "/servicemgmt/incidents/"+hub+"/recategorise", `{"category":"2"}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "TRANSITION_NOT_ALLOWED") {
		t.Fatalf("a closed incident recategorised: %d %s", code, body)
	}
	_, after := api(t, gasSup, "GET", "incidents/"+hub, "")
	kinds := []string{}
	for _, e := range after["timeline"].([]any) {
		kinds = append(kinds, e.(map[string]any)["kind"].(string))
	}
	if !slices.Equal(kinds, []string{"raised", "allocated", "recategorised", "resolved", "closed"}) {
		t.Fatalf("timeline %v", kinds)
	}
}
