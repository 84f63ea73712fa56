package rdpapi_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/rdpapi"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

const (
	rdp  = "00-00-00-00-00-00-0D-01"
	eno  = "00-00-00-00-00-00-0E-01"
	eno2 = "00-00-00-00-00-00-0E-02"
	sup  = "00-00-00-00-00-00-0A-01"
)

type env struct {
	url string
	ca  *pki.CA
	svc *registration.Service
	clk *clock.Virtual
}

func start(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	sp := spec.MustDefault()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewVirtual(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	for _, u := range []store.User{{ID: eno, Role: "ENO"}, {ID: eno2, Role: "ENO"}, {ID: sup, Role: "EIS"}} {
		u.Entered = true
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := registration.New(st, sp, clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddRDP(ctx, rdp, "RDP", ""); err != nil {
		t.Fatal(err)
	}
	rp, err := reports.New(st, sp, clk)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(rdpapi.RegistrationHandler(svc, rdpapi.Options{}))
	mux.Handle(rdpapi.ReportHandler(rp, rdpapi.Options{}))
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := pki.ServerTLS(ca, srvCert)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS, srv.EnableHTTP2 = tlsCfg, true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, ca: ca, svc: svc, clk: clk}
}

func (e *env) client(t *testing.T, iss pki.Issued) *http.Client {
	t.Helper()
	cfg, err := pki.ClientTLS(e.ca.CertPEM, iss)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

func (e *env) as(t *testing.T, id, ou string) *http.Client {
	t.Helper()
	iss, err := e.ca.IssueUser(id, ou)
	if err != nil {
		t.Fatal(err)
	}
	return e.client(t, iss)
}

func (e *env) admin(t *testing.T) *http.Client {
	t.Helper()
	iss, err := e.ca.IssueAdmin(api.AdminCommonName)
	if err != nil {
		t.Fatal(err)
	}
	return e.client(t, iss)
}

var seq int64

func file(t *testing.T, no string) []byte {
	t.Helper()
	seq++
	var b bytes.Buffer
	err := registration.Write(&b, "csv", registration.Header{RDP: rdp, Kind: "incremental", Fuel: "electricity", Sequence: seq, Created: time.Now()},
		[]string{"mpxn", "effective_from", "network_operator", "import_supplier"},
		[]map[string]string{{"mpxn": "1900000000001", "effective_from": "2026-01-01", "network_operator": eno, "import_supplier": sup},
			{"mpxn": "1900000000002", "effective_from": "2026-01-01", "network_operator": no, "import_supplier": sup}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRegistrationService(t *testing.T) {
	ctx := t.Context()
	e := start(t)
	rdpC := dccgatev1connect.NewRegistrationServiceClient(e.as(t, rdp, registration.RDPOrgUnit), e.url)
	enoC := dccgatev1connect.NewRegistrationServiceClient(e.as(t, eno, "ENO"), e.url)
	supC := dccgatev1connect.NewRegistrationServiceClient(e.as(t, sup, "EIS"), e.url)
	admC := dccgatev1connect.NewRegistrationServiceClient(e.admin(t), e.url)

	// The network operator nominates the RDP over the API; a supplier may not.
	if _, err := supC.NominateRDP(ctx, connect.NewRequest(&dccgatev1.NominateRDPRequest{Rdp: rdp})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a supplier nominating: %v", err)
	}
	n, err := enoC.NominateRDP(ctx, connect.NewRequest(&dccgatev1.NominateRDPRequest{Rdp: rdp}))
	if err != nil || n.Msg.GetNetworkOperator() != eno {
		t.Fatalf("%v %v", n, err)
	}

	// A user cannot send a registration file.
	if _, err := supC.SubmitRegistrationFile(ctx, connect.NewRequest(&dccgatev1.SubmitRegistrationFileRequest{Content: file(t, eno)})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a user sending a file: %v", err)
	}
	// The RDP sends a file for its network: applied.
	res, err := rdpC.SubmitRegistrationFile(ctx, connect.NewRequest(&dccgatev1.SubmitRegistrationFileRequest{Name: "a.csv", Content: file(t, eno)}))
	if err != nil || res.Msg.GetFile().GetState() != "applied" || res.Msg.GetFile().GetWritten() != 2 {
		t.Fatalf("%v %v", res, err)
	}
	// Data for a network that did not nominate it: refused, the row named.
	_, err = rdpC.SubmitRegistrationFile(ctx, connect.NewRequest(&dccgatev1.SubmitRegistrationFileRequest{Name: "b.csv", Content: file(t, eno2)}))
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodePermissionDenied {
		t.Fatalf("refused: %v", err)
	}
	var detail *dccgatev1.SubmitRegistrationFileResponse
	for _, d := range cerr.Details() {
		if m, err := d.Value(); err == nil {
			detail, _ = m.(*dccgatev1.SubmitRegistrationFileResponse)
		}
	}
	if detail == nil || len(detail.GetErrors()) != 1 || detail.GetErrors()[0].GetLine() != 4 || detail.GetErrors()[0].GetCode() != registration.CodeNotNominated ||
		detail.GetIncidents()[0].GetKind() != registration.IncidentRejected {
		t.Fatalf("detail %v", detail)
	}
	// A bad file: an answer with state rejected and an incident.
	bad, err := rdpC.SubmitRegistrationFile(ctx, connect.NewRequest(&dccgatev1.SubmitRegistrationFileRequest{Content: []byte("nonsense\n")}))
	if err != nil || bad.Msg.GetFile().GetState() != "rejected" || bad.Msg.GetIncidents()[0].GetKind() != registration.IncidentNotConforming {
		t.Fatalf("%v %v", bad, err)
	}

	// Refreshes: the admin asks; the RDP sees it; a user may not ask.
	if _, err := enoC.RequestRefresh(ctx, connect.NewRequest(&dccgatev1.RequestRefreshRequest{Rdp: rdp})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("a user asking for a refresh: %v", err)
	}
	rr, err := admC.RequestRefresh(ctx, connect.NewRequest(&dccgatev1.RequestRefreshRequest{Rdp: rdp}))
	if err != nil || !rr.Msg.GetRefresh().GetDueAt().AsTime().Equal(e.clk.Now().Add(48*time.Hour)) {
		t.Fatalf("%v %v", rr, err)
	}
	e.clk.Advance(49 * time.Hour)
	list, err := rdpC.ListRefreshRequests(ctx, connect.NewRequest(&dccgatev1.ListRefreshRequestsRequest{}))
	if err != nil || len(list.Msg.GetRefreshes()) != 1 || !list.Msg.GetRefreshes()[0].GetOverdue() {
		t.Fatalf("%v %v", list, err)
	}
	incs, err := rdpC.ListRegistrationIncidents(ctx, connect.NewRequest(&dccgatev1.ListRegistrationIncidentsRequest{}))
	if err != nil || len(incs.Msg.GetIncidents()) != 2 {
		t.Fatalf("%v %v", incs, err)
	}
}

func TestReportService(t *testing.T) {
	ctx := t.Context()
	e := start(t)
	supR := dccgatev1connect.NewReportServiceClient(e.as(t, sup, "EIS"), e.url)
	rdpR := dccgatev1connect.NewReportServiceClient(e.as(t, rdp, registration.RDPOrgUnit), e.url)
	admR := dccgatev1connect.NewReportServiceClient(e.admin(t), e.url)

	f, err := supR.FileForecasts(ctx, connect.NewRequest(&dccgatev1.FileForecastsRequest{Entries: []*dccgatev1.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: 100}}}))
	if err != nil || f.Msg.GetForecasts()[0].GetRevision() != 1 || f.Msg.GetForecasts()[0].GetUserId() != sup {
		t.Fatalf("%v %v", f, err)
	}
	if _, err := supR.FileForecasts(ctx, connect.NewRequest(&dccgatev1.FileForecastsRequest{Entries: []*dccgatev1.ForecastEntry{{Service: "4.1", Month: "2026-03", Count: 1}}})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a forecast for the current month: %v", err)
	}
	if _, err := supR.FileForecasts(ctx, connect.NewRequest(&dccgatev1.FileForecastsRequest{UserId: eno, Entries: []*dccgatev1.ForecastEntry{{Service: "4.1", Month: "2026-04", Count: 1}}})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another user's forecast: %v", err)
	}
	if _, err := rdpR.GetPerformanceReport(ctx, connect.NewRequest(&dccgatev1.GetPerformanceReportRequest{Month: "2026-03"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("an RDP reading reports: %v", err)
	}
	p, err := supR.GetPerformanceReport(ctx, connect.NewRequest(&dccgatev1.GetPerformanceReportRequest{Month: "2026-03"}))
	if err != nil || len(p.Msg.GetMeasures()) != 5 || p.Msg.GetMeasures()[0].GetResult() != reports.ResultNoData || p.Msg.GetMeasures()[4].GetResult() != reports.ResultNoData {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := supR.GetPerformanceReport(ctx, connect.NewRequest(&dccgatev1.GetPerformanceReportRequest{Month: "March"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a bad month: %v", err)
	}
	e.clk.Set(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	own, err := supR.GetDemandReport(ctx, connect.NewRequest(&dccgatev1.GetDemandReportRequest{Month: "2026-04"}))
	if err != nil || len(own.Msg.GetUsers()) != 1 || own.Msg.GetUsers()[0].GetUserId() != sup {
		t.Fatalf("own %v %v", own, err)
	}
	all, err := admR.GetDemandReport(ctx, connect.NewRequest(&dccgatev1.GetDemandReportRequest{Month: "2026-04"}))
	if err != nil || len(all.Msg.GetUsers()) != 3 { // the supplier and the two network operators (Table 5.3 rows)
		t.Fatalf("all %v %v", all, err)
	}
}

// TestRequestRefreshRefusals: the admin's refresh of an RDP not nominated
// for it is refused as a failed precondition whose message carries the
// code, the clause and who is nominated; other refusals are invalid
// arguments; nothing refused is kept.
func TestRequestRefreshRefusals(t *testing.T) {
	ctx := t.Context()
	e := start(t)
	const rdp2 = "00-00-00-00-00-00-0D-02"
	if _, err := e.svc.AddRDP(ctx, rdp2, "RDP 2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Nominate(ctx, eno, rdp); err != nil {
		t.Fatal(err)
	}
	admC := dccgatev1connect.NewRegistrationServiceClient(e.admin(t), e.url)
	tests := []struct {
		note          string
		rdp, no, fuel string
		code          connect.Code // 0: accepted
		says          []string
	}{
		{note: "of the RDP the ENO nominated", rdp: rdp, no: eno},
		{note: "of everything the RDP provides", rdp: rdp},
		{note: "of another RDP for the ENO", rdp: rdp2, no: eno, code: connect.CodeFailedPrecondition,
			says: []string{"not_nominated (para 84, 90-91)", eno + " has nominated " + rdp + " as its RDP, not " + rdp2}},
		{note: "of an RDP no one nominated", rdp: rdp2, code: connect.CodeFailedPrecondition,
			says: []string{"not_nominated (para 84, 90-91)", eno + " nominates " + rdp}},
		{note: "of gas, which no gas network operator asked of it", rdp: rdp, fuel: "gas", code: connect.CodeFailedPrecondition,
			says: []string{"no gas network operator has nominated an RDP"}},
		{note: "an unknown fuel", rdp: rdp, fuel: "water", code: connect.CodeInvalidArgument, says: []string{"unknown_fuel"}},
		{note: "gas for the ENO", rdp: rdp, no: eno, fuel: "gas", code: connect.CodeInvalidArgument, says: []string{"fuel_mismatch"}},
		{note: "an RDP not registered", rdp: "00-00-00-00-00-00-0D-09", code: connect.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			before, err := e.svc.Refreshes(ctx, "", false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = admC.RequestRefresh(ctx, connect.NewRequest(&dccgatev1.RequestRefreshRequest{Rdp: tc.rdp, NetworkOperator: tc.no, Fuel: tc.fuel}))
			if connect.CodeOf(err) != tc.code && !(tc.code == 0 && err == nil) {
				t.Fatalf("err %v, want %v", err, tc.code)
			}
			for _, s := range tc.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Fatalf("%v does not say %q", err, s)
				}
			}
			after, err := e.svc.Refreshes(ctx, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if kept := len(after) - len(before); kept != map[bool]int{true: 1, false: 0}[tc.code == 0] {
				t.Fatalf("%d refreshes kept", kept)
			}
		})
	}
}

// TestReportMonthOutOfRange: a report of a month the store cannot hold is
// an invalid argument naming the months accepted, not an internal error.
func TestReportMonthOutOfRange(t *testing.T) {
	e := start(t)
	admR := dccgatev1connect.NewReportServiceClient(e.admin(t), e.url)
	tests := []struct {
		note, report, month string
	}{
		{"performance, year 0", "performance", "0000-01"},
		{"performance, year 9999", "performance", "9999-12"},
		{"demand, year 0", "demand", "0000-01"},
		{"demand, year 9999", "demand", "9999-12"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var err error
			if tc.report == "performance" {
				_, err = admR.GetPerformanceReport(t.Context(), connect.NewRequest(&dccgatev1.GetPerformanceReportRequest{Month: tc.month}))
			} else {
				_, err = admR.GetDemandReport(t.Context(), connect.NewRequest(&dccgatev1.GetDemandReportRequest{Month: tc.month}))
			}
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), reports.CodeMonthOutOfRange) ||
				!strings.Contains(err.Error(), "from 1678-09 to 2262-03") {
				t.Fatalf("err %v", err)
			}
		})
	}
}
