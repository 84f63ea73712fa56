package server

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/protobuf/types/known/timestamppb"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/conformance/connectgw"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/telemetry"
	"github.com/dccgate/dccgate/spec"
)

// startOps starts a virtual-clock server with an admin listener.
func startOps(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.Listen, cfg.AdminListen, cfg.VirtualClock = "127.0.0.1:0", "127.0.0.1:0", true
	if cfg.PolicyDir == "" && cfg.SpecDir == "" {
		cfg.Engine = sharedEngine(t)
	}
	srv, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func sharedEngine(t *testing.T) *engine.Engine {
	t.Helper()
	engOnce.Do(func() {
		var err error
		if eng, err = engine.New(context.Background(), spec.MustDefault()); err != nil {
			t.Fatal(err)
		}
	})
	return eng
}

// scrape reads the admin listener's /metrics.
func scrape(t *testing.T, srv *Server) string {
	t.Helper()
	resp, err := http.Get(srv.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// metric sums the samples of name whose labels include want.
func metric(body, name string, want map[string]string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labels := map[string]string{}
		if i := strings.Index(rest, "}"); rest[0] == '{' && i > 0 {
			for _, m := range labelRE.FindAllStringSubmatch(rest[:i], -1) {
				labels[m[1]] = m[2]
			}
			rest = rest[i+1:]
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

const metricsScenario = `name: metrics-after-a-scenario
source: issue 12
users:
  - {id: "00-00-00-00-00-00-0A-01", role: EIS, party: Alpha Energy}
  - {id: "00-00-00-00-00-00-06-01", role: GNO, party: Gas Pipes}
registration:
  - {mpxn: "1900000000011", fuel: electricity, import_supplier: "00-00-00-00-00-00-0A-01", network_operator: "00-00-00-00-00-00-0E-01", postcode: "LS1 1AA", premises: "7"}
inventory:
  - {device: "00-DB-00-00-00-00-C0-01", type: CHF, status: commissioned}
  - {device: "00-DB-00-00-00-00-E0-01", type: ESME, status: commissioned, mpxn: "1900000000011", chf: "00-DB-00-00-00-00-C0-01"}
steps:
  - as: "00-00-00-00-00-00-0A-01"
    request: {service: "4.1", device: "00-DB-00-00-00-00-E0-01"}
    expect: {outcome: accepted}
  - as: "00-00-00-00-00-00-0A-01"
    request: {service: "4.1", device: "00-DB-00-00-00-00-E0-01"}
    expect: {outcome: accepted}
  - as: "00-00-00-00-00-00-0A-01"
    request: {service: "4.1", device: "00-DB-00-00-00-00-E0-01"}
    expect: {outcome: accepted}
  - as: "00-00-00-00-00-00-06-01"
    request: {service: "4.1", device: "00-DB-00-00-00-00-E0-01"}
    expect: {outcome: rejected, reason: NOT_REGISTERED}
  - as: "00-00-00-00-00-00-0A-01"
    request: {service: "4.12", device: "00-DB-00-00-00-00-E0-01"}
    expect: {outcome: rejected, reason: CATEGORY_NOT_AVAILABLE}
  - id: billing
    as: "00-00-00-00-00-00-0A-01"
    request: {service: "4.4", device: "00-DB-00-00-00-00-E0-01", when: {future: "2026-01-05T21:00:00Z"}}
    expect: {outcome: pending}
  - advance: 12h
    expect: {outcomes: {billing: accepted}}
`

// TestMetricsAfterAScenario runs a scenario through the public API and
// finds on /metrics the counts it implies.
func TestMetricsAfterAScenario(t *testing.T) {
	srv := startOps(t, Config{})
	ctx := t.Context()
	sc, err := scenario.Parse("metrics.yaml", []byte(metricsScenario))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := connectgw.New(srv.URL, srv.PKI.CA.CertPEM, srv.PKI.Admin, spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	if res := scenario.Run(ctx, gw, sc); !res.Passed() {
		t.Fatalf("scenario failed: %+v", res.Failures)
	}
	body := scrape(t, srv)
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		note   string
		name   string
		labels map[string]string
		want   float64
	}{
		{"4.1 accepted at submission", "dccgate_requests_decided_total", l("service", "4.1", "category", "on_demand", "outcome", "accepted"), 3},
		{"4.1 refused: not registered", "dccgate_requests_decided_total", l("service", "4.1", "outcome", "rejected", "reason", "NOT_REGISTERED"), 1},
		{"4.12 on demand refused", "dccgate_requests_decided_total", l("service", "4.12", "outcome", "rejected", "reason", "CATEGORY_NOT_AVAILABLE"), 1},
		{"future dated 4.4 accepted", "dccgate_requests_decided_total", l("service", "4.4", "category", "future_dated", "outcome", "accepted"), 1},
		{"every decision", "dccgate_requests_decided_total", nil, 6},
		{"4.1 responses", "dccgate_requests_completed_total", l("service", "4.1", "state", "accepted"), 3},
		{"4.4 response", "dccgate_requests_completed_total", l("service", "4.4", "category", "future_dated", "state", "accepted"), 1},
		{"4.1 response times", "dccgate_response_time_seconds_count", l("service", "4.1", "category", "on_demand"), 3},
		{"4.1 within its 30s target", "dccgate_response_time_seconds_bucket", l("service", "4.1", "category", "on_demand", "le", "30"), 3},
		{"on demand within target", "dccgate_responses_by_target_total", l("measures", "on_demand", "within_target", "true"), 3},
		{"future dated within target", "dccgate_responses_by_target_total", l("measures", "future_dated", "within_target", "true"), 1},
		{"measure 1", "dccgate_performance_measure_percent", l("number", "1"), 100},
		{"measure 1 target from the spec", "dccgate_performance_measure_target_percent", l("number", "1"), 99},
		{"4.1 target from the spec", "dccgate_service_target_response_seconds", l("service", "4.1", "category", "on_demand"), 30},
		{"nothing left acknowledged", "dccgate_requests_open", l("state", "acknowledged"), 0},
		{"nothing pending", "dccgate_requests_open", l("state", "pending"), 0},
		{"no SMWAN fault", "dccgate_smwan_faults_total", nil, 0},
		{"submissions served", "dccgate_rpc_seconds_count", l("procedure", "/dccgate.v1.GatewayService/Submit", "code", "ok"), 6},
		{"inserts timed", "dccgate_store_call_seconds_count", l("op", "InsertRequest"), 6},
		{"store up", "dccgate_store_up", nil, 1},
	}
	for _, tc := range tests {
		if got := metric(body, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s: %s%v = %v, want %v", tc.note, tc.name, tc.labels, got, tc.want)
		}
	}
	// Every write went through a group commit: at least the 6 inserts and
	// the 5 Service Responses, in at most as many commits.
	commits, writes := metric(body, "dccgate_store_commits_total", nil), metric(body, "dccgate_store_committed_writes_total", nil)
	if commits == 0 || writes < 11 || writes < commits || metric(body, "dccgate_store_commit_seconds_total", nil) <= 0 {
		t.Errorf("group commits: %v commits of %v writes", commits, writes)
	}

	// What happens next shows at the next scrape: a Command the SMWAN
	// loses, and a future dated request the store holds.
	srv.G.SetSMWANFaults(0, 1)
	issued, err := IssueUserCerts(srv.PKI, []store.User{{ID: supplier, Role: "EIS"}})
	if err != nil {
		t.Fatal(err)
	}
	// The key registry holds the certificate the scenario's Reset issued;
	// this client presents another, so register it first.
	if err := srv.G.RegisterCertificate(ctx, supplier, []byte(issued[0].CertPEM)); err != nil {
		t.Fatal(err)
	}
	c := clientAs(t, srv, supplier)
	if _, err := c.Submit(ctx, connect.NewRequest(read41Meter("00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"))); err != nil {
		t.Fatal(err)
	}
	srv.G.WaitIdle(ctx)
	body = scrape(t, srv)
	if got := metric(body, "dccgate_smwan_faults_total", map[string]string{"kind": "lost"}); got != 1 {
		t.Errorf("SMWAN faults: %v, want 1", got)
	}
	if got := metric(body, "dccgate_requests_completed_total", map[string]string{"service": "4.1", "state": "rejected", "reason": "SMWAN_UNAVAILABLE"}); got != 1 {
		t.Errorf("4.1 lost on the SMWAN: %v, want 1", got)
	}
	fd := &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: supplier, DeviceId: "00-DB-00-00-00-00-E0-01", Category: dccgatev1.Category_CATEGORY_FUTURE_DATED,
			ExecuteAt: timestamppb.New(srv.G.Now().Add(2 * time.Hour))},
		Body: &dccgatev1.ServiceRequest_RetrieveBillingDataLog{RetrieveBillingDataLog: &dccgatev1.RetrieveBillingDataLog{Entry: 0}},
	}}
	if resp, err := c.Submit(ctx, connect.NewRequest(fd)); err != nil || resp.Msg.GetState().GetState() != "pending" {
		t.Fatalf("future dated: %v %v", resp, err)
	}
	body = scrape(t, srv)
	if got := metric(body, "dccgate_requests_open", map[string]string{"state": "pending"}); got != 1 {
		t.Errorf("pending future dated requests: %v, want 1", got)
	}
	if got := metric(body, "dccgate_future_dated_lag_seconds", nil); got != 0 {
		t.Errorf("future dated lag before it is due: %v", got)
	}
}

func read41Meter(user, device string) *dccgatev1.SubmitRequest {
	r := read41(user, "")
	r.Request.Envelope.DeviceId = device
	return r
}

// policyCopy writes the embedded policy modules to a directory.
func policyCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(policy.Modules(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policy.Modules(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReloadRefusesABadPolicyAndKeepsDeciding edits the policy of a
// running gateway: a broken edit is refused with file:line and the old
// policy goes on deciding; a good edit decides the next request.
func TestReloadRefusesABadPolicyAndKeepsDeciding(t *testing.T) {
	dir := policyCopy(t)
	srv := startOps(t, Config{PolicyDir: dir})
	if _, err := srv.SeedDemo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ops := dccgatev1connect.NewOpsServiceClient(http.DefaultClient, srv.AdminURL)
	c := clientAs(t, srv, supplier)
	submit := func() *dccgatev1.RequestState {
		t.Helper()
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetState()
	}
	if st := submit(); st.GetState() != "acknowledged" {
		t.Fatalf("before the edit: %+v", st)
	}
	before, err := ops.Status(ctx, connect.NewRequest(&dccgatev1.StatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gateway.rego")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(orig), "\n")
	broken := string(orig) + "\nbroken := {\n"
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ops.Reload(ctx, connect.NewRequest(&dccgatev1.ReloadRequest{}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("reload of a broken policy: %v", err)
	}
	loc := regexp.MustCompile(regexp.QuoteMeta(file) + `:(\d+):\d+: rego_compile_error`).FindStringSubmatch(err.Error())
	if loc == nil {
		t.Fatalf("the refusal does not name file:line: %v", err)
	}
	if n, _ := strconv.Atoi(loc[1]); n <= lines {
		t.Errorf("the error is at line %d, before the edit (the file had %d lines)", n, lines)
	}
	if st := submit(); st.GetState() != "acknowledged" {
		t.Fatalf("after a refused reload the old policy should decide: %+v", st)
	}
	after, err := ops.Status(ctx, connect.NewRequest(&dccgatev1.StatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if after.Msg.GetPolicyHash() != before.Msg.GetPolicyHash() || !strings.Contains(after.Msg.GetReloadError(), "gateway.rego:") || !after.Msg.GetReady() {
		t.Fatalf("status after a refused reload: %+v", after.Msg)
	}
	if got := metric(scrape(t, srv), "dccgate_reloads_total", map[string]string{"result": "refused"}); got != 1 {
		t.Errorf("refused reloads: %v", got)
	}

	// A good edit: the import supplier role loses 4.1.
	const roles = `"roles": {r | some r in s.roles},`
	if !strings.Contains(string(orig), roles) {
		t.Fatalf("gateway.rego no longer has %q: update this test's edit", roles)
	}
	edited := strings.Replace(string(orig), roles, `"roles": {r | some r in s.roles; not drop_eis(s, r)},`, 1) +
		"\ndrop_eis(s, r) if {\n\ts.ref == \"4.1\"\n\tr == \"EIS\"\n}\n"
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ops.Reload(ctx, connect.NewRequest(&dccgatev1.ReloadRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Msg.GetChanged() || res.Msg.GetPolicyHash() == before.Msg.GetPolicyHash() {
		t.Fatalf("reload of a good edit: %+v", res.Msg)
	}
	if st := submit(); st.GetReason() != "ROLE_NOT_ELIGIBLE" {
		t.Fatalf("after the reload: %+v", st)
	}
}

// TestHealthAndReadiness: /healthz answers while the process lives,
// /readyz fails once a shutdown begins.
func TestHealthAndReadiness(t *testing.T) {
	srv := startOps(t, Config{})
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.AdminURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	code, body := get("/readyz")
	if code != 200 || !strings.Contains(body, "migrations: ok") || !strings.Contains(body, "policies: ok") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	srv.shuttingDown.Store(true)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("/readyz while shutting down: %d %s", code, body)
	}
	srv.shuttingDown.Store(false)
}

// TestAdminProfiles: the admin listener serves the process's Go profiles.
func TestAdminProfiles(t *testing.T) {
	srv := startOps(t, Config{})
	for _, tc := range []struct{ path, want string }{
		{"/debug/pprof/", "goroutine"},
		{"/debug/pprof/goroutine?debug=1", "serveAdmin"},
		{"/debug/pprof/cmdline", ""},
	} {
		resp, err := http.Get(srv.AdminURL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %.200s", tc.path, resp.StatusCode, b)
		}
	}
}

// TestOneTracePerRequest follows a Service Request from the handler
// through the engine and the store to its execution on the device.
func TestOneTracePerRequest(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr := telemetry.NewTracingWith(sdktrace.WithSyncer(exp), telemetry.TracingConfig{})
	srv := startOps(t, Config{Tracing: tr})
	if _, err := srv.SeedDemo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	exp.Reset()
	resp, err := clientAs(t, srv, supplier).Submit(t.Context(), connect.NewRequest(read41(supplier, "")))
	if err != nil {
		t.Fatal(err)
	}
	srv.G.WaitIdle(t.Context())
	deadline := time.Now().Add(5 * time.Second)
	var spans tracetest.SpanStubs
	for time.Now().Before(deadline) {
		spans = exp.GetSpans()
		if has(spans, "gateway.execute") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var root *tracetest.SpanStub
	for i := range spans {
		if spans[i].Name == "/dccgate.v1.GatewayService/Submit" {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no span for the Submit call: %v", names(spans))
	}
	id := resp.Msg.GetRequestId()
	inTrace := map[string]int{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == root.SpanContext.TraceID() {
			inTrace[s.Name]++
		}
	}
	for _, want := range []string{"engine.Decide", "store.InsertRequest", "gateway.execute", "devices.run", "store.UpdateRequests"} {
		if inTrace[want] == 0 {
			t.Errorf("no %s span in the request's trace (%v)", want, inTrace)
		}
	}
	for _, s := range spans {
		if s.Name == "gateway.execute" {
			found := false
			for _, a := range s.Attributes {
				found = found || (string(a.Key) == "dccgate.request_id" && a.Value.AsString() == id)
			}
			if !found {
				t.Errorf("the execution span does not name %s: %v", id, s.Attributes)
			}
		}
	}
}

func has(spans tracetest.SpanStubs, name string) bool {
	for _, s := range spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
