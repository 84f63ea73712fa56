package server

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// goStyleName is a JSON key written as a Go identifier with capitals
// (DeviceID, CreatedAt, ID, deviceId): the encoding of a struct field
// without a json tag, or a camelCase one. The JSON answers beside Connect
// name their fields in snake_case, as their requests do; data keys (User
// IDs, codes) have hyphens or no capitals.
var goStyleName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

func isGoStyle(k string) bool {
	return goStyleName.MatchString(k) && strings.ToLower(k) != k
}

// goStyleKeys returns the paths of the keys of v written in Go style.
func goStyleKeys(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if isGoStyle(k) {
				out = append(out, path+"."+k)
			}
			out = append(out, goStyleKeys(e, path+"."+k)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, goStyleKeys(e, path+"[]")...)
		}
	}
	return out
}

// jsonRoutes are the JSON routes the server's source mounts (on the admin
// listener, and under ServiceAPIPrefix and HubsAPIPrefix on the API
// listener): "METHOD /path/{wildcard}", read from the files that mount
// them, so that a route added there and not walked below fails the test.
func jsonRoutes(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`HandleFunc\("([A-Z]+) ("\+p\+")?([^"]*)"`)
	var out []string
	for file, prefix := range map[string]string{"servicemgmt.go": "", "servicemgmt_api.go": ServiceAPIPrefix, "hubs.go": HubsAPIPrefix} {
		b, err := os.ReadFile(filepath.Join(".", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			path := m[3]
			if m[2] != "" {
				path = prefix + path
			}
			out = append(out, m[1]+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// TestJSONAnswersNameFieldsInSnakeCase walks every JSON route of the admin
// listener and of the API listener's service management and hubs APIs,
// each answered with content, and fails on a field named in Go style.
func TestJSONAnswersNameFieldsInSnakeCase(t *testing.T) {
	ctx := t.Context()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	s := startAdminDemo(t, 2, start)
	const (
		alpha = "00-00-00-00-00-00-0A-01"
		esme  = "00-DB-00-00-00-00-E0-01"
		hub   = "00-DB-00-00-01-00-C0-01"
	)
	users := map[string]*http.Client{"": http.DefaultClient}
	userClient := func(t *testing.T, id string) *http.Client {
		t.Helper()
		if c, ok := users[id]; ok {
			return c
		}
		users[id] = userHTTP(t, s, id)
		return users[id]
	}
	// ids are what earlier answers named, for the paths and bodies of
	// later steps ($INC, $DIAG).
	ids := map[string]string{}
	expand := func(x string) string {
		for k, v := range ids {
			x = strings.ReplaceAll(x, "$"+k, v)
		}
		return x
	}
	steps := []struct {
		route string // the route pattern, as mounted
		as    string // "" for the admin listener, else a user on the API listener
		path  string // the request's path, if not the route's own
		body  string
		want  int
		keep  string // the name under which to keep the answer's id
		check func(t *testing.T, v any)
	}{
		// A list with nothing in it is [], not null.
		{route: "GET /servicemgmt/incidents", check: func(t *testing.T, v any) {
			if l, ok := v.([]any); !ok || len(l) != 0 {
				t.Errorf("no incidents: %#v, want []", v)
			}
		}},
		{route: "POST /servicemgmt/maintenance", body: `{"id":"MW-1","starts_at":"2026-02-03T01:00:00Z","ends_at":"2026-02-03T03:00:00Z","description":"database upgrade"}`},
		{route: "GET /servicemgmt/maintenance"},
		{route: "POST /servicemgmt/releases", body: `{"id":"R-1","kind":"minor","name":"2026.1","implement_at":"2026-02-20T02:00:00Z"}`},
		{route: "POST /servicemgmt/v1/diagnose", as: alpha, body: `{"device_id":"` + esme + `"}`, keep: "DIAG"},
		{route: "POST /servicemgmt/v1/incidents", as: alpha, body: `{"category":"2","area":"smwan","device_id":"` + esme + `","title":"no data","diagnosis_id":"$DIAG"}`, keep: "INC"},
		{route: "GET /servicemgmt/v1/incidents", as: alpha},
		{route: "GET /servicemgmt/v1/incidents/{id}", as: alpha, path: "/servicemgmt/v1/incidents/$INC", check: func(t *testing.T, v any) {
			// The diagnostic data on the timeline is JSON, not base64.
			tl, _ := v.(map[string]any)["timeline"].([]any)
			if len(tl) == 0 {
				t.Fatalf("no timeline: %v", v)
			}
			if d, _ := tl[0].(map[string]any)["data"].(map[string]any); d == nil || d["id"] != ids["DIAG"] {
				t.Errorf("the raising's data: %#v, want the diagnosis %s", tl[0], ids["DIAG"])
			}
		}},
		{route: "POST /servicemgmt/v1/incidents/{id}/{action}", as: alpha, path: "/servicemgmt/v1/incidents/$INC/update", body: `{"note":"still no data","data":{"readings":0}}`},
		{route: "GET /servicemgmt/incidents"},
		{route: "POST /servicemgmt/incidents/{id}/major", path: "/servicemgmt/incidents/$INC/major", body: `{"dcc_manager":"Dana","party_manager":"Pat"}`},
		// Allocated already by the policy: refused, in JSON too (the
		// incident it would answer is walked above and below).
		{route: "POST /servicemgmt/incidents/{id}/allocate", path: "/servicemgmt/incidents/$INC/allocate", body: `{"user_id":"` + alpha + `"}`, want: http.StatusUnprocessableEntity},
		{route: "POST /servicemgmt/incidents/{id}/recategorise", path: "/servicemgmt/incidents/$INC/recategorise", body: `{"category":"1","note":"many premises"}`},
		{route: "POST /servicemgmt/incidents/{id}/resolve", path: "/servicemgmt/incidents/$INC/resolve", body: `{"note":"fixed"}`},
		{route: "POST /servicemgmt/incidents/{id}/review", path: "/servicemgmt/incidents/$INC/review", body: `{"note":"a full disk"}`},
		{route: "POST /servicemgmt/incidents/{id}/close", path: "/servicemgmt/incidents/$INC/close", body: `{"note":"done"}`},
		{route: "POST /servicemgmt/v1/tickets", as: alpha, body: `{"kind":"general_query","subject":"hello","body":"a question"}`, keep: "TKT"},
		{route: "POST /servicemgmt/tickets/{id}/answer", path: "/servicemgmt/tickets/$TKT/answer", body: `{"answer":"hello to you"}`},
		{route: "GET /servicemgmt/v1/tickets", as: alpha},
		{route: "POST /servicemgmt/tickets", body: `{"raised_by":"Insights Ltd","party":"Insights Ltd","kind":"general_query","subject":"hello"}`},
		{route: "GET /servicemgmt/tickets", path: "/servicemgmt/tickets?status=open"},
		{route: "GET /servicemgmt/feedback", check: func(t *testing.T, v any) {
			if l, ok := v.([]any); !ok || len(l) != 1 {
				t.Errorf("feedback: %#v, want the one given", v)
			}
		}},
		{route: "GET /servicemgmt/measures", path: "/servicemgmt/measures?month=2026-01"},
		{route: "POST /users", body: `{"id":"00-00-00-00-00-00-0F-09","role":"OU","party":"Insights","cert_pem":"$CERT"}`},
		{route: "POST /users/{id}/{action}", path: "/users/" + alpha + "/suspend"},
		{route: "POST /users/{id}/{action}", path: "/users/" + alpha + "/reinstate"},
		{route: "POST /hubs/v1/forecasts", as: alpha, body: `{"month":"2026-03","variant":"dual_band","quantity":4}`},
		{route: "GET /hubs/v1/forecasts", as: alpha},
		{route: "POST /hubs/v1/orders", as: alpha, body: `{"id":"O-A","region":"south","lines":[{"variant":"single_band","quantity":1}]}`},
		{route: "POST /hubs/orders/{id}/delivery", path: "/hubs/orders/O-A/delivery", body: `{"hubs":[{"id":"` + hub + `","variant":"single_band"}]}`},
		{route: "GET /hubs/v1/orders", as: alpha},
		{route: "GET /hubs/v1/orders/{id}", as: alpha, path: "/hubs/v1/orders/O-A"},
		{route: "GET /hubs/v1/hubs", as: alpha},
		{route: "POST /hubs/v1/hubs/{id}/removal", as: alpha, path: "/hubs/v1/hubs/" + hub + "/removal", body: `{"reason":"no_fault_found"}`},
		{route: "GET /hubs/v1/charges", as: alpha, path: "/hubs/v1/charges?month=2026-01"},
		{route: "POST /hubs/defaults", body: `{"party":"` + alpha + `","month":"2026-01","invoice":"finance"}`},
		{route: "GET /hubs/charges", path: "/hubs/charges?month=2026-01"},
	}
	iss, err := s.PKI.CA.IssueUser("00-00-00-00-00-00-0F-09", "OU")
	if err != nil {
		t.Fatal(err)
	}
	ids["CERT"] = strings.ReplaceAll(string(iss.CertPEM), "\n", `\n`)

	walked := map[string]bool{}
	for _, st := range steps {
		path := st.path
		if path == "" {
			path = strings.SplitN(st.route, " ", 2)[1]
		}
		method, path := strings.SplitN(st.route, " ", 2)[0], expand(path)
		if st.route == "POST /hubs/v1/hubs/{id}/removal" {
			// The hub is installed first (its CHF joins the SMWAN), and
			// the month of the charges ends after its removal.
			if err := s.G.DeviceEvent(ctx, hub, "wan_connected"); err != nil {
				t.Fatal(err)
			}
		}
		if st.route == "GET /servicemgmt/feedback" {
			// Feedback is given on the SSI (para 247), not served here.
			sm := s.Store.(interface{ Unwrap() store.Store }).Unwrap().(store.ServiceManagement)
			if err := sm.PutFeedback(ctx, store.Feedback{ID: "FB-1", UserID: alpha, Page: "downloads", Body: "clear", At: s.G.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if st.route == "GET /hubs/v1/charges" {
			if _, err := s.G.Advance(ctx, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Sub(s.G.Now())); err != nil {
				t.Fatal(err)
			}
		}
		base, c := s.AdminURL, users[""]
		if st.as != "" {
			base, c = s.URL, userClient(t, st.as)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(expand(st.body)))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		want := st.want
		if want == 0 {
			want = http.StatusOK
		}
		if res.StatusCode != want || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %s %s, want %d application/json", method, path, res.StatusCode, res.Header.Get("Content-Type"), b, want)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
		if bad := goStyleKeys(v, ""); len(bad) > 0 {
			slices.Sort(bad)
			t.Errorf("%s %s answers fields named in Go style: %v", method, path, slices.Compact(bad))
		}
		if st.check != nil {
			st.check(t, v)
		}
		if st.keep != "" {
			id, _ := v.(map[string]any)["id"].(string)
			if id == "" {
				t.Fatalf("%s %s: no id in %s", method, path, b)
			}
			ids[st.keep] = id
		}
		walked[st.route] = true
	}
	for _, r := range jsonRoutes(t) {
		if !walked[r] {
			t.Errorf("the route %q is not walked", r)
		}
	}
}

func TestIsGoStyle(t *testing.T) {
	for k, want := range map[string]bool{
		"DeviceID": true, "ID": true, "CreatedAt": true, "deviceId": true,
		"device_id": false, "id": false, "00-00-00-00-00-00-0A-01": false, "4": false, "error": false,
	} {
		if got := isGoStyle(k); got != want {
			t.Errorf("isGoStyle(%q) = %v, want %v", k, got, want)
		}
	}
}

// clientFor is an HTTP client presenting a certificate of the server's CA.
func clientFor(t *testing.T, s *Server, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsFor(t, s, certPEM, keyPEM), ForceAttemptHTTP2: true}}
}

// tlsFor is the TLS configuration of a client presenting certPEM and
// keyPEM to s.
func tlsFor(t *testing.T, s *Server, certPEM, keyPEM []byte) *tls.Config {
	t.Helper()
	cfg, err := pki.ClientTLS(s.PKI.CA.CertPEM, pki.Issued{CertPEM: certPEM, KeyPEM: keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
