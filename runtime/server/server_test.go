package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

var (
	engOnce sync.Once
	eng     *engine.Engine
)

func startDemo(t *testing.T) *Server {
	t.Helper()
	engOnce.Do(func() {
		var err error
		if eng, err = engine.New(context.Background(), spec.MustDefault()); err != nil {
			t.Fatal(err)
		}
	})
	srv, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.SeedDemo(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	return srv
}

func clientAs(t *testing.T, srv *Server, user string) dccgatev1connect.GatewayServiceClient {
	t.Helper()
	return dccgatev1connect.NewGatewayServiceClient(userHTTP(t, srv, user), srv.URL)
}

// userHTTP is an HTTP client with a user's certificate and key, as the
// server issued them (its PKI's users/).
func userHTTP(t *testing.T, s *Server, user string) *http.Client {
	t.Helper()
	return pemClient(t, s, filepath.Join(s.PKI.Dir, "users"), user)
}

// pemClient is an HTTP client with the certificate and key name.pem and
// name-key.pem in dir, trusting the server's CA.
func pemClient(t *testing.T, s *Server, dir, name string) *http.Client {
	t.Helper()
	cert, key := pemPair(t, dir, name)
	return clientFor(t, s, cert, key)
}

// pemPair reads the certificate and key name.pem and name-key.pem in dir.
func pemPair(t *testing.T, dir, name string) (cert, key []byte) {
	t.Helper()
	cert, err := os.ReadFile(filepath.Join(dir, name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err = os.ReadFile(filepath.Join(dir, name+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

const (
	supplier = "00-00-00-00-00-00-0A-01"
	other    = "00-00-00-00-00-00-0B-01"
	meter    = "00-DB-00-00-00-00-E0-01"
)

func read41(user, id string) *dccgatev1.SubmitRequest {
	return &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{RequestId: id, UserId: user, DeviceId: meter},
		Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
	}}
}

func TestCallersMustBeAuthenticated(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	// No client certificate: the TLS handshake is refused.
	pool := srv.PKI.CA.Pool()
	anon := dccgatev1connect.NewGatewayServiceClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}, srv.URL)
	if _, err := anon.Submit(ctx, connect.NewRequest(read41(supplier, ""))); err == nil {
		t.Fatal("a call without a client certificate was served")
	}
	// A certificate from another CA: refused too.
	otherCA, err := pki.NewCA("someone else")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otherCA.IssueUser(supplier, "EIS")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ClientTLS(srv.PKI.CA.CertPEM, forged)
	if err != nil {
		t.Fatal(err)
	}
	f := dccgatev1connect.NewGatewayServiceClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}, srv.URL)
	if _, err := f.Submit(ctx, connect.NewRequest(read41(supplier, ""))); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	// A request whose User ID is not the caller's.
	_, err = clientAs(t, srv, other).Submit(ctx, connect.NewRequest(read41(supplier, "")))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("another user's User ID: %v", err)
	}
}

func TestRequestsAreTheCallersOwn(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	resp, err := clientAs(t, srv, supplier).Submit(ctx, connect.NewRequest(read41(supplier, "")))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Msg.GetRequestId()
	o := clientAs(t, srv, other)
	// Another user's request is as one that does not exist, whatever the
	// call (its existence is not to be learnt); a call naming none is
	// refused as such.
	calls := []struct {
		note string
		call func(id string) error
	}{
		{"GetRequest", func(id string) error {
			_, err := o.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
			return err
		}},
		{"CancelRequest", func(id string) error {
			_, err := o.CancelRequest(ctx, connect.NewRequest(&dccgatev1.CancelRequestRequest{RequestId: id}))
			return err
		}},
		{"SubmitSignedPreCommand", func(id string) error {
			_, err := o.SubmitSignedPreCommand(ctx, connect.NewRequest(&dccgatev1.SubmitSignedPreCommandRequest{RequestId: id, SignedPreCommand: []byte{1}, Signature: []byte{1}}))
			return err
		}},
	}
	for _, c := range calls {
		for _, tc := range []struct {
			id   string
			code connect.Code
			msg  string
		}{{id, connect.CodeNotFound, "no request " + id}, {id + "9", connect.CodeNotFound, "no request " + id + "9"}, {"", connect.CodeInvalidArgument, "request_id is required"}} {
			err := c.call(tc.id)
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != tc.code || ce.Message() != tc.msg {
				t.Errorf("%s of %q: %v, want %s %q", c.note, tc.id, err, tc.code, tc.msg)
			}
		}
	}
	_, err = o.ListRequests(ctx, connect.NewRequest(&dccgatev1.ListRequestsRequest{States: []string{"accepted", "bogus"}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), `unknown state "bogus"`) {
		t.Errorf("ListRequests of an unknown state: %v", err)
	}
}

func TestReplayIsRefused(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	tests := []struct {
		note, id, reason string
	}{
		{"first", supplier + ":" + meter + ":5", ""},
		{"same ID again", supplier + ":" + meter + ":5", "REPLAY"},
		{"lower counter", supplier + ":" + meter + ":4", "REPLAY"},
		{"higher counter", supplier + ":" + meter + ":6", ""},
		{"originator not the sender", other + ":" + meter + ":7", "MALFORMED"},
	}
	for _, tc := range tests {
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, tc.id)))
		if err != nil {
			t.Fatalf("%s: %v", tc.note, err)
		}
		if got := resp.Msg.GetState().GetReason(); got != tc.reason {
			t.Fatalf("%s: reason %q, want %q", tc.note, got, tc.reason)
		}
	}
}

// TestSubscribeResumesFromACursor reads the stream, reconnects from the
// first cursor and gets exactly what followed it.
func TestSubscribeResumesFromACursor(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	var ids []string
	for i := 0; i < 3; i++ {
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Msg.GetRequestId())
	}
	read := func(from int64, n int) []*dccgatev1.StreamMessage {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		stream, err := c.Subscribe(sctx, connect.NewRequest(&dccgatev1.SubscribeRequest{Cursor: from}))
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		var out []*dccgatev1.StreamMessage
		for len(out) < n && stream.Receive() {
			out = append(out, stream.Msg())
		}
		if len(out) < n {
			t.Fatalf("stream ended after %d messages: %v", len(out), stream.Err())
		}
		return out
	}
	all := read(0, 3)
	got := map[string]bool{}
	for _, m := range all {
		got[m.GetResponse().GetRequestId()] = true
		if m.GetResponse().GetState() != "accepted" {
			t.Fatalf("response %+v", m.GetResponse())
		}
	}
	for _, id := range ids {
		if !got[id] {
			t.Fatalf("no response for %s", id)
		}
	}
	rest := read(all[0].GetCursor(), 2)
	if rest[0].GetCursor() != all[1].GetCursor() || rest[1].GetCursor() != all[2].GetCursor() {
		t.Fatalf("resumed at %d, %d; want %d, %d", rest[0].GetCursor(), rest[1].GetCursor(), all[1].GetCursor(), all[2].GetCursor())
	}
}

// TestSubscribeFromTheStreamEnd subscribes from GetStreamCursor's cursor
// and gets only what came after it: the first message is the response to
// the request sent after the call, not the history.
func TestSubscribeFromTheStreamEnd(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	cur := func() int64 {
		t.Helper()
		r, err := c.GetStreamCursor(ctx, connect.NewRequest(&dccgatev1.GetStreamCursorRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return r.Msg.GetCursor()
	}
	if got := cur(); got != 0 {
		t.Fatalf("a new user's stream ends at %d, want 0", got)
	}
	submit := func() string {
		t.Helper()
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetRequestId()
	}
	first := submit()
	srv.G.WaitIdle(ctx)
	end := cur()
	if end == 0 {
		t.Fatalf("the stream ends at 0 after %s was answered", first)
	}
	second := submit()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	stream, err := c.Subscribe(sctx, connect.NewRequest(&dccgatev1.SubscribeRequest{Cursor: end}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatalf("stream ended: %v", stream.Err())
	}
	m := stream.Msg()
	if got := m.GetResponse().GetRequestId(); got != second || m.GetCursor() <= end {
		t.Fatalf("first message after %d: cursor %d, response to %q; want the response to %s (not %s's)", end, m.GetCursor(), got, second, first)
	}
	// Another user's stream is its own.
	if r, err := clientAs(t, srv, other).GetStreamCursor(ctx, connect.NewRequest(&dccgatev1.GetStreamCursorRequest{})); err != nil || r.Msg.GetCursor() != 0 {
		t.Fatalf("another user's stream ends at %d (%v), want 0", r.Msg.GetCursor(), err)
	}
}

func TestCancelBeforeItStarts(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	resp, err := c.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: supplier, DeviceId: meter, Category: dccgatev1.Category_CATEGORY_FUTURE_DATED,
			ExecuteAt: timestamppb.New(srv.G.Now().Add(2 * time.Hour))},
		Body: &dccgatev1.ServiceRequest_RetrieveBillingDataLog{RetrieveBillingDataLog: &dccgatev1.RetrieveBillingDataLog{Entry: 0}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Msg.GetState().GetState(); st != "pending" {
		t.Fatalf("future dated request is %s", st)
	}
	id := resp.Msg.GetRequestId()
	cr, err := c.CancelRequest(ctx, connect.NewRequest(&dccgatev1.CancelRequestRequest{RequestId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if cr.Msg.GetState() != "cancelled" {
		t.Fatalf("after cancel: %s", cr.Msg.GetState())
	}
	if _, err := c.CancelRequest(ctx, connect.NewRequest(&dccgatev1.CancelRequestRequest{RequestId: id})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("cancelling twice: %v", err)
	}
	// It does not run when its time comes.
	if _, err := srv.G.Advance(ctx, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetState() != "cancelled" {
		t.Fatalf("after its time: %s", got.Msg.GetState())
	}
}

// TestPlaintextBehindAProxy serves h2c for a TLS-terminating proxy: the
// forwarded certificate authenticates, its absence does not.
func TestPlaintextBehindAProxy(t *testing.T) {
	engOnce.Do(func() {
		var err error
		if eng, err = engine.New(context.Background(), spec.MustDefault()); err != nil {
			t.Fatal(err)
		}
	})
	srv, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", PlaintextListen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.SeedDemo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(srv.PKI.Dir, "users", supplier+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := dccgatev1connect.NewGatewayServiceClient(http.DefaultClient, srv.PlaintextURL)
	if _, err := c.Submit(t.Context(), connect.NewRequest(read41(supplier, ""))); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("without a forwarded certificate: %v", err)
	}
	req := connect.NewRequest(read41(supplier, ""))
	req.Header().Set(api.ForwardedCertHeader, url.QueryEscape(string(certPEM)))
	resp, err := c.Submit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.GetState().GetState() != "acknowledged" {
		t.Fatalf("state %+v", resp.Msg.GetState())
	}
}

// TestCertificateRegistry: a certificate past its validity on the gateway's
// clock, or revoked, makes the user's requests CERTIFICATE_INVALID.
func TestCertificateRegistry(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	keyPEM, err := os.ReadFile(filepath.Join(srv.PKI.Dir, "users", supplier+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	now := srv.G.Now()
	short, err := srv.PKI.CA.IssueUserKey(&key.PublicKey, supplier, "EIS", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.G.RegisterCertificate(ctx, supplier, short); err != nil {
		t.Fatal(err)
	}
	reason := func() string {
		t.Helper()
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetState().GetReason()
	}
	if got := reason(); got != "" {
		t.Fatalf("inside the validity period: %s", got)
	}
	if _, err := srv.G.Advance(ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := reason(); got != "CERTIFICATE_INVALID" {
		t.Fatalf("after the validity period: %q", got)
	}
	// Another user's certificate registered for this user: not the user's.
	otherCert, err := os.ReadFile(filepath.Join(srv.PKI.Dir, "users", other+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.G.RegisterCertificate(ctx, supplier, otherCert); err == nil {
		t.Fatal("registered a certificate naming another user")
	}
	if err := srv.G.RevokeCertificate(ctx, supplier); err != nil {
		t.Fatal(err)
	}
	if got := reason(); got != "CERTIFICATE_INVALID" {
		t.Fatalf("revoked: %q", got)
	}
}

// TestQuarantinedRequestsAreKeptAndListed: a request over the anomaly
// threshold is quarantined (para 135), kept, and listed to its sender.
func TestQuarantinedRequestsAreKeptAndListed(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	srv.G.SetAnomaly([]gateway.AnomalyRule{{Service: "4.1", Role: "EIS", Max: 1, Per: time.Hour}})
	c := clientAs(t, srv, supplier)
	var quarantined string
	for i := 0; i < 3; i++ {
		resp, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Msg.GetState().GetState() == "quarantined" {
			quarantined = resp.Msg.GetRequestId()
		}
	}
	if quarantined == "" {
		t.Fatal("nothing quarantined over a threshold of 1 an hour")
	}
	list, err := c.ListRequests(ctx, connect.NewRequest(&dccgatev1.ListRequestsRequest{States: []string{"quarantined"}}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.Msg.GetRequests()); n != 2 {
		t.Fatalf("%d quarantined requests listed, want 2", n)
	}
	for _, r := range list.Msg.GetRequests() {
		if r.GetReason() != "ANOMALY" || r.GetUserId() != supplier {
			t.Fatalf("listed %+v", r)
		}
	}
	// Another user sees none of them.
	other, err := clientAs(t, srv, other).ListRequests(ctx, connect.NewRequest(&dccgatev1.ListRequestsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Msg.GetRequests()) != 0 {
		t.Fatal("another user's requests listed")
	}
}

// TestSuspensionRemovesSchedules: a user suspended under M8 loses its
// schedules (para 125) and is refused from then on.
func TestSuspensionRemovesSchedules(t *testing.T) {
	srv := startDemo(t)
	ctx := t.Context()
	c := clientAs(t, srv, supplier)
	resp, err := c.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: supplier, DeviceId: meter, Schedule: &dccgatev1.ScheduleSpec{Service: "4.8", Every: "24h"}},
		Body:     &dccgatev1.ServiceRequest_CreateSchedule{CreateSchedule: &dccgatev1.CreateSchedule{}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	srv.G.WaitIdle(ctx)
	scheds, err := srv.Store.ListSchedules(ctx, store.ScheduleFilter{UserID: supplier})
	if err != nil || len(scheds) != 1 {
		t.Fatalf("schedules after 5.1 (%s): %d %v", resp.Msg.GetRequestId(), len(scheds), err)
	}
	if err := srv.G.SuspendUser(ctx, supplier); err != nil {
		t.Fatal(err)
	}
	if scheds, _ := srv.Store.ListSchedules(ctx, store.ScheduleFilter{UserID: supplier}); len(scheds) != 0 {
		t.Fatalf("%d schedules left after suspension", len(scheds))
	}
	r, err := c.Submit(ctx, connect.NewRequest(read41(supplier, "")))
	if err != nil {
		t.Fatal(err)
	}
	if r.Msg.GetState().GetReason() != "USER_SUSPENDED" {
		t.Fatalf("after suspension: %+v", r.Msg.GetState())
	}
}

// TestReportServiceIsServed: the report service is mounted beside the
// gateway's and answers a user about its own forecasts.
func TestReportServiceIsServed(t *testing.T) {
	srv := startDemo(t)
	rc := dccgatev1connect.NewReportServiceClient(userHTTP(t, srv, supplier), srv.URL)
	_, err := rc.ListForecasts(t.Context(), connect.NewRequest(&dccgatev1.ListForecastsRequest{UserId: supplier}))
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		t.Fatalf("ReportService is not mounted: %v", err)
	}
}

// TestConfiguredAnomalyThresholds: the thresholds a serve is configured
// with (Config.Anomaly, the anomaly key) quarantine from the first
// request, demo world loaded or not.
func TestConfiguredAnomalyThresholds(t *testing.T) {
	startDemo(t) // compiles the shared engine
	srv, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng,
		Anomaly: []gateway.AnomalyRule{{Service: "4.1", Role: "EIS", Max: 1, Per: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.SeedDemo(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	c := clientAs(t, srv, supplier)
	var states []string
	for range 2 {
		resp, err := c.Submit(t.Context(), connect.NewRequest(read41(supplier, "")))
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, resp.Msg.GetState().GetState()+"/"+resp.Msg.GetState().GetReason())
	}
	if states[0] == "quarantined/ANOMALY" || states[1] != "quarantined/ANOMALY" {
		t.Fatalf("two reads over a threshold of one an hour: %v, want the second quarantined (ANOMALY)", states)
	}
}
