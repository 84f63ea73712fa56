package duisapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/duisapi"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
	"github.com/dccgate/dccgate/spec"
)

const (
	supplier = "00-00-00-00-00-00-0A-01" // EIS, registered for the premises 1
	gasSup   = "00-00-00-00-00-00-0A-02" // GIS
	rival    = "00-00-00-00-00-00-0B-01" // EIS, registered for nothing
	agent    = "00-00-00-00-00-00-0C-01" // SNA: note 406 gives it no local delivery
	esme     = "00-DB-00-00-00-00-E0-01"
	dccID    = "90-B3-D5-1F-30-00-00-02"
	nsSR     = "http://www.dccinterface.co.uk/ServiceUserGateway"
)

var (
	engOnce sync.Once
	eng     *engine.Engine
)

type env struct {
	srv     *server.Server
	url     string
	signers map[string]signer
	gwCert  *duis.Cert
	duis    *duisapi.Server
}

type signer struct {
	key  *ecdsa.PrivateKey
	cert *duis.Cert
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(*server.Config) {})
}

// newEnvWith is newEnv with the server's Config set by cfg.
func newEnvWith(t *testing.T, cfg func(*server.Config)) *env {
	t.Helper()
	return newEnvWorld(t, cfg, false)
}

// newEnvWorld is newEnvWith on the demo world, or on the Boxed world
// (`--world boxed`, its users' signers); the DUIS server is told the DCC's
// ID of that world, as its signing certificate's.
func newEnvWorld(t *testing.T, cfg func(*server.Config), boxed bool) *env {
	t.Helper()
	engOnce.Do(func() {
		var err error
		if eng, err = engine.New(t.Context(), spec.MustDefault()); err != nil {
			t.Fatal(err)
		}
	})
	sc := server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng}
	cfg(&sc)
	srv, err := server.Start(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	users := []struct{ id, role string }{{supplier, "02"}, {gasSup, "02"}, {rival, "02"}, {agent, "06"}}
	gwID := dccID
	if boxed {
		if _, err := srv.SeedBoxed(t.Context()); err != nil {
			t.Fatal(err)
		}
		users = nil
		for _, u := range srv.G.Spec().DUIS.Boxed.Users {
			users = append(users, struct{ id, role string }{u.ID, "02"})
		}
		gwID = srv.G.Spec().DUIS.Boxed.DCC
	} else if _, err := srv.SeedDemo(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Z1", OrganizationalUnit: []string{"07"}},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	issue := func(id, role string) signer {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := duis.IssueUser(ca, caKey, id, role, &key.PublicKey, tmpl.NotBefore, tmpl.NotAfter)
		if err != nil {
			t.Fatal(err)
		}
		c, err := duis.ParseCert(der)
		if err != nil {
			t.Fatal(err)
		}
		return signer{key, c}
	}
	expired := func() signer {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := duis.IssueUser(ca, caKey, rival, "02", &key.PublicKey, tmpl.NotBefore, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := duis.ParseCert(der)
		return signer{key, c}
	}()
	reg := &duisapi.Registry{}
	e := &env{srv: srv, signers: map[string]signer{}}
	for _, u := range users {
		s := issue(u.id, u.role)
		e.signers[u.id] = s
		if err := reg.Add(s.cert); err != nil {
			t.Fatal(err)
		}
	}
	e.signers["expired"] = expired
	if err := reg.Add(expired.cert); err != nil {
		t.Fatal(err)
	}
	gw := issue(gwID, "89")
	e.gwCert = gw.cert
	// The DCC's ID is its certificate's, as runtime/server sets it.
	d := &duisapi.Server{G: srv.G, Registry: reg, Key: gw.key, Cert: gw.cert.IssuerSerial(), DCCID: gwID}
	e.duis = d
	mux := http.NewServeMux()
	for p, h := range d.Handlers() {
		mux.Handle(p, h)
	}
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

// request writes an sr:Request of schemaVersion 5.4; header is extra
// Header elements after the RequestID.
func request(id, cv, srv, header, body string) string {
	return requestIn("5.4", id, cv, srv, header, body)
}

// requestIn is request in another schemaVersion.
func requestIn(version, id, cv, srv, header, body string) string {
	ref := strings.Join(strings.SplitN(srv, ".", 3)[:2], ".")
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<sr:Request xmlns:sr="%s" schemaVersion="%s">
  <sr:Header>
    <sr:RequestID>%s</sr:RequestID>%s
    <sr:CommandVariant>%s</sr:CommandVariant>
    <sr:ServiceReference>%s</sr:ServiceReference>
    <sr:ServiceReferenceVariant>%s</sr:ServiceReferenceVariant>
  </sr:Header>
  <sr:Body>%s</sr:Body>
</sr:Request>`, nsSR, version, id, header, cv, ref, srv, body)
}

type answer struct {
	status int
	resp   *duis.DecodedResponse
	reason string
	body   string
}

func (e *env) post(t *testing.T, endpoint, as, doc string) answer {
	t.Helper()
	s := e.signers[as]
	d, err := duis.Parse([]byte(doc), duis.DefaultLimits)
	var signed []byte
	if err != nil {
		signed = []byte(doc) // hostile input goes as it is
	} else if signed, err = duis.Sign(d, s.key, s.cert.IssuerSerial()); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(e.url+"/api/v1/"+endpoint, "application/xml", bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, reason: res.Header.Get("X-DCCGate-Reason"), body: string(b)}
	if res.StatusCode != http.StatusOK {
		return a
	}
	rd, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		t.Fatalf("response: %v\n%s", err, b)
	}
	if _, err := duis.Verify(rd, func(is duis.IssuerSerial) *ecdsa.PublicKey {
		if is.Serial.Cmp(e.gwCert.Serial) == 0 {
			return e.gwCert.PublicKey
		}
		return nil
	}); err != nil {
		t.Fatalf("the response's signature: %v\n%s", err, b)
	}
	if a.resp, err = duis.DecodeResponse(rd, nsSR); err != nil {
		t.Fatal(err)
	}
	// The DUIS XSD allows no foreign attributes: our decision is in the
	// headers only.
	if bytes.Contains(b, []byte(duis.NSDCCGate)) {
		t.Fatalf("the response carries dccgate's namespace:\n%s", b)
	}
	a.resp.ReadHeaders(res.Header)
	return a
}

func (e *env) state(t *testing.T, id string) string {
	t.Helper()
	e.srv.G.WaitIdle(t.Context())
	r, err := e.srv.Store.GetRequest(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

const read411 = `<sr:ReadInstantaneousImportRegisters/>`

func TestCommandVariantsAndEndpoints(t *testing.T) {
	e := newEnv(t)
	id := func(n int) string { return fmt.Sprintf("%s:%s:%d", supplier, esme, n) }
	tests := []struct {
		note, endpoint, doc, code, reason string
		status                            int
	}{
		{"CV 1 to serviceS", "serviceS", request(id(10), "1", "4.1.1", "", read411), "I99", "", 200},
		{"CV 2 to serviceD", "serviceD", request(id(11), "2", "4.1.1", "", read411), "I99", "", 200},
		{"CV 3 to serviceS", "serviceS", request(id(12), "3", "4.1.1", "", read411), "I99", "", 200},
		{"CV 4 to serviceT", "serviceT", request(id(13), "4", "7.1", "", `<sr:EnableSupply/>`), "I0", "", 200},
		{"CV 8 to serviceD", "serviceD", request(fmt.Sprintf("%s:%s:%d", supplier, dccID, 14), "8", "8.2", "", `<sr:ReadInventory><sr:DeviceID>`+esme+`</sr:DeviceID></sr:ReadInventory>`), "I99", "", 200},
		{"CV 1 to serviceT", "serviceT", request(id(15), "1", "4.1.1", "", read411), "E13", "MALFORMED", 200},
		{"CV 4 to serviceS", "serviceS", request(id(16), "4", "7.1", "", `<sr:EnableSupply/>`), "E13", "MALFORMED", 200},
		{"CV 8 to serviceS", "serviceS", request(fmt.Sprintf("%s:%s:%d", supplier, dccID, 17), "8", "8.2", "", `<sr:ReadInventory/>`), "E13", "MALFORMED", 200},
		{"CV 2 to serviceS", "serviceS", request(id(18), "2", "4.1.1", "", read411), "E13", "MALFORMED", 200},
		{"critical service as CV 1", "serviceS", request(id(19), "1", "7.1", "", `<sr:EnableSupply/>`), "E12", "MALFORMED", 200},
		{"CV 6 to serviceS", "serviceS", request(id(20), "6", "7.1", "", `<sr:SignedPreCommand><sr:GBCSPayload>AQ==</sr:GBCSPayload></sr:SignedPreCommand>`), "E13", "MALFORMED", 200},
		{"CV 7 to serviceD", "serviceD", request(id(21), "7", "7.1", "", `<sr:SignedPreCommand><sr:GBCSPayload>AQ==</sr:GBCSPayload></sr:SignedPreCommand>`), "E13", "MALFORMED", 200},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			a := e.post(t, tc.endpoint, supplier, tc.doc)
			if tc.status != 0 && a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if a.resp == nil {
				if tc.reason != "" && a.reason != tc.reason {
					t.Fatalf("reason %q, want %q: %s", a.reason, tc.reason, a.body)
				}
				return
			}
			if tc.code != "" && a.resp.ResponseCode != tc.code {
				t.Fatalf("code %s (%s %s), want %s", a.resp.ResponseCode, a.resp.Reason, a.resp.Message, tc.code)
			}
			if tc.code == "" && (a.resp.ResponseCode == "E12" || a.resp.ResponseCode == "E13") {
				t.Fatalf("a variant that fits its endpoint was refused: %+v", a.resp)
			}
			if tc.reason != "" && a.resp.Reason != tc.reason {
				t.Fatalf("X-DCCGate-Reason %q, want %q", a.resp.Reason, tc.reason)
			}
		})
	}
}

func TestCriticalRoundTrip(t *testing.T) {
	e := newEnv(t)
	keyPEM, err := os.ReadFile(filepath.Join(e.srv.PKI.Dir, "users", supplier+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The signed Pre-Command goes over the SMWAN (CV 5), back to the user
	// as a Command for Local Delivery (CV 6), or both (CV 7).
	var signedPC []byte
	for i, tc := range []struct {
		cv, endpoint, delivery string
		local                  bool
	}{
		{"5", "serviceS", "wan", false},
		{"6", "serviceD", "local", true},
		{"7", "serviceS", "both", true},
	} {
		id := fmt.Sprintf("%s:%s:%d", supplier, esme, 100+i)
		a := e.post(t, "serviceT", supplier, request(id, "4", "7.1", "", `<sr:EnableSupply/>`))
		if a.resp == nil || a.resp.ResponseCode != "I0" || len(a.resp.PreCommand) == 0 {
			t.Fatalf("transform: %d %s", a.status, a.body)
		}
		if signedPC, err = precommand.Sign(a.resp.PreCommand, k.(*ecdsa.PrivateKey)); err != nil {
			t.Fatal(err)
		}
		body := `<sr:SignedPreCommand><sr:GBCSPayload>` + duis.EncodeBase64(signedPC) + `</sr:GBCSPayload></sr:SignedPreCommand>`
		a = e.post(t, tc.endpoint, supplier, request(id, tc.cv, "7.1", "", body))
		if a.resp == nil || a.resp.ResponseCode != "I99" && a.resp.ResponseCode != "I0" {
			t.Fatalf("CV %s: %d %s", tc.cv, a.status, a.body)
		}
		e.srv.G.WaitIdle(t.Context())
		r, err := e.srv.Store.GetRequest(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != "accepted" || strings.Contains(string(r.Response), "local_command") != tc.local {
			t.Fatalf("CV %s: %s %s, response %s", tc.cv, r.State, r.Message, r.Response)
		}
		if r.Delivery != tc.delivery {
			t.Fatalf("CV %s: delivery %s, want %s", tc.cv, r.Delivery, tc.delivery)
		}
	}
	id2 := fmt.Sprintf("%s:%s:%d", supplier, esme, 110)
	// A tampered Signed Pre-Command is refused.
	a := e.post(t, "serviceT", supplier, request(id2, "4", "7.1", "", `<sr:EnableSupply/>`))
	bad := append([]byte{}, signedPC...)
	bad[len(bad)-1] ^= 1
	a = e.post(t, "serviceS", supplier, request(id2, "5", "7.1", "", `<sr:SignedPreCommand><sr:GBCSPayload>`+duis.EncodeBase64(bad)+`</sr:GBCSPayload></sr:SignedPreCommand>`))
	if a.status != http.StatusBadRequest || a.reason != "SIGNATURE_INVALID" {
		t.Fatalf("a tampered Signed Pre-Command: %d %s", a.status, a.body)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	n := 200
	next := func(user, target string) string { n++; return fmt.Sprintf("%s:%s:%d", user, target, n) }
	tests := []struct {
		note, endpoint, as, doc string
		status                  int
		code, reason            string
	}{
		{"role not eligible (E2)", "serviceS", supplier, request(next(supplier, esme), "1", "4.2", "", `<sr:ReadInstantaneousExportRegisters/>`), 200, "E2", "ROLE_NOT_ELIGIBLE"},
		{"not registered (E4)", "serviceS", rival, request(next(rival, esme), "1", "4.1.1", "", read411), 200, "E4", "NOT_REGISTERED"},
		{"no local delivery for the role (E17)", "serviceD", agent, request(next(agent, esme), "2", "7.4", "", `<sr:ReadSupplyStatus/>`), 200, "E17", "DEVICE_STATUS"},
		{"unknown device (E19)", "serviceS", supplier, request(next(supplier, "00-DB-00-00-00-00-EE-EE"), "1", "4.1.1", "", read411), 200, "E19", "DEVICE_UNKNOWN"},
		{"postdated SRV", "serviceS", supplier, request(next(supplier, esme), "1", "4.18", "", `<sr:ReadMeterBalance/>`), 400, "", "MALFORMED"},
		{"signed by another user", "serviceS", rival, request(next(supplier, esme), "1", "4.1.1", "", read411), 403, "", "SIGNATURE_INVALID"},
		// The signer is checked before the envelope: no E12 answers (and
		// echoes) another user's RequestID.
		{"signed by another user, a command variant the SRV refuses", "serviceS", rival, request(next(supplier, esme), "1", "7.1", "", `<sr:EnableSupply/>`), 403, "", "SIGNATURE_INVALID"},
		{"signed by another user, a command variant not 1-8", "serviceS", rival, request(next(supplier, esme), "9", "4.1.1", "", read411), 403, "", "SIGNATURE_INVALID"},
		{"external entity", "serviceS", supplier, `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`, 400, "", "MALFORMED"},
		{"unsigned", "serviceS", supplier, "unsigned", 401, "", "SIGNATURE_INVALID"},
		{"expired signing certificate", "serviceS", "expired", request(next(rival, esme), "1", "4.1.1", "", read411), 401, "", "CERTIFICATE_INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			doc := tc.doc
			if doc == "unsigned" {
				doc = request(next(supplier, esme), "1", "4.1.1", "", read411)
				res, err := http.Post(e.url+"/api/v1/serviceS", "application/xml", strings.NewReader(doc))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != tc.status || res.Header.Get("X-DCCGate-Reason") != tc.reason {
					t.Fatalf("%d %s", res.StatusCode, res.Header.Get("X-DCCGate-Reason"))
				}
				return
			}
			a := e.post(t, tc.endpoint, tc.as, doc)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if a.resp != nil {
				if a.resp.ResponseCode != tc.code || a.resp.Reason != tc.reason || a.resp.Clause == "" {
					t.Fatalf("got %s %s (%s), want %s %s", a.resp.ResponseCode, a.resp.Reason, a.resp.Clause, tc.code, tc.reason)
				}
				return
			}
			if a.reason != tc.reason {
				t.Fatalf("reason %q, want %q: %s", a.reason, tc.reason, a.body)
			}
		})
	}
}

func TestReplayAndSequencing(t *testing.T) {
	e := newEnv(t)
	first := fmt.Sprintf("%s:%s:%d", supplier, esme, 300)
	if a := e.post(t, "serviceS", supplier, request(first, "1", "4.1.1", "", read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
		t.Fatalf("first: %s", a.body)
	}
	if a := e.post(t, "serviceS", supplier, request(first, "1", "4.1.1", "", read411)); a.status != 400 || a.reason != "REPLAY" {
		t.Fatalf("replayed ID: %d %s", a.status, a.body)
	}
	lower := fmt.Sprintf("%s:%s:%d", supplier, esme, 299)
	if a := e.post(t, "serviceS", supplier, request(lower, "1", "4.1.1", "", read411)); a.status != 400 || a.reason != "REPLAY" {
		t.Fatalf("lower counter: %d %s", a.status, a.body)
	}
	if st := e.state(t, first); st != "accepted" {
		t.Fatalf("first is %s", st)
	}
	// After an accepted predecessor, a sequenced request goes ahead.
	second := fmt.Sprintf("%s:%s:%d", supplier, esme, 301)
	pre := "\n    <sr:PrecedingServiceRequestID>" + first + "</sr:PrecedingServiceRequestID>"
	if a := e.post(t, "serviceS", supplier, request(second, "1", "4.1.1", pre, read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
		t.Fatalf("sequenced: %s", a.body)
	}
	if st := e.state(t, second); st != "accepted" {
		t.Fatalf("sequenced request is %s", st)
	}
	// After a refused predecessor, it is cancelled.
	refused := fmt.Sprintf("%s:%s:%d", supplier, "00-DB-00-00-00-00-EE-EE", 302)
	e.post(t, "serviceS", supplier, request(refused, "1", "4.1.1", "", read411))
	third := fmt.Sprintf("%s:%s:%d", supplier, esme, 303)
	pre = "\n    <sr:PrecedingServiceRequestID>" + refused + "</sr:PrecedingServiceRequestID>"
	if a := e.post(t, "serviceS", supplier, request(third, "1", "4.1.1", pre, read411)); a.status != 400 || a.reason != "PREDECESSOR_FAILED" {
		t.Fatalf("after a refused predecessor: %d %s", a.status, a.body)
	}
}

// recorder is the outbox's record of DUIS requests, as far as the endpoint
// writes it before the gateway sees a request.
type recorder struct {
	duisapi.OutboxStore // nil: no other method is called here
	mu                  sync.Mutex
	ids                 []string
}

func (r *recorder) PutDUISRequest(_ context.Context, requestID string, _ sqlstore.DUISRequestInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, requestID)
	return nil
}

// TestBusyBeforeAnyWrite: a gateway full (one request in flight, the most
// it holds; the SMWAN slow on its virtual clock) refuses the next DUIS
// request with 503 and GATEWAY_BUSY before recording anything of it.
func TestBusyBeforeAnyWrite(t *testing.T) {
	e := newEnvWith(t, func(c *server.Config) { c.MaxInFlight, c.AdmissionWait = 1, 20*time.Millisecond })
	rec := &recorder{}
	e.duis.Requests = rec
	e.srv.G.SetSMWANFaults(time.Hour, 0)
	id := func(n int) string { return fmt.Sprintf("%s:%s:%d", supplier, esme, n) }
	if a := e.post(t, "serviceS", supplier, request(id(1), "1", "4.1.1", "", read411)); a.status != 200 {
		t.Fatalf("the first: %d %s", a.status, a.body)
	}
	a := e.post(t, "serviceS", supplier, request(id(2), "1", "4.1.1", "", read411))
	if a.status != http.StatusServiceUnavailable || a.reason != "GATEWAY_BUSY" {
		t.Fatalf("the gateway full: %d %q %s, want 503 GATEWAY_BUSY", a.status, a.reason, a.body)
	}
	rec.mu.Lock()
	ids := slices.Clone(rec.ids)
	rec.mu.Unlock()
	if len(ids) != 1 || ids[0] != id(1) {
		t.Errorf("recorded %v, want only the first", ids)
	}
	// The one in flight completes on the clock's hour.
	e.srv.G.SetSMWANFaults(0, 0)
	if _, err := e.srv.G.Advance(t.Context(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, id(1)); st != "accepted" {
		t.Errorf("the first: %s", st)
	}
}

// TestCancellation: a Future Dated request dated 3000-12-31T00:00:00Z, as
// DCC Boxed's *_CANCELLATION_* templates send, cancels the sender's
// pending Future Dated requests of that service to that Device (and no
// other), answered I0 at once; with nothing pending it is I0 too.
func TestCancellation(t *testing.T) {
	e := newEnv(t)
	at := e.srv.G.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	id := func(n int) string { return fmt.Sprintf("%s:%s:%d", supplier, esme, n) }
	message := func(when string) string {
		return `<sr:DisplayMessage><sr:ExecutionDateTime>` + when + `</sr:ExecutionDateTime><sr:SupplierMessage>Hello</sr:SupplierMessage></sr:DisplayMessage>`
	}
	credentials := `<sr:RetrieveDeviceSecurityCredentialsKRP><sr:ExecutionDateTime>` + at + `</sr:ExecutionDateTime></sr:RetrieveDeviceSecurityCredentialsKRP>`
	for _, tc := range []struct{ id, srv, body string }{{id(300), "3.1", message(at)}, {id(301), "6.24.1", credentials}} {
		if a := e.post(t, "serviceS", supplier, request(tc.id, "1", tc.srv, "", tc.body)); a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("%s: %d %s", tc.srv, a.status, a.body)
		}
	}
	cancel := func(n int) string { return request(id(n), "1", "3.1", "", message("3000-12-31T00:00:00.00Z")) }
	// A cancellation's RequestID is replay-protected as any request's
	// (README: a repeated ID or a counter not above the user's last is
	// REPLAY): sent again it is refused, and its counter is taken.
	tests := []struct {
		note, doc    string
		status       int
		code, reason string
	}{
		{"cancels the pending 3.1", cancel(302), 200, "I0", ""},
		{"nothing left to cancel", cancel(303), 200, "I0", ""},
		{"a counter not above the last request's", cancel(300), 400, "", "REPLAY"},
		{"the same cancellation sent again", cancel(303), 400, "", "REPLAY"},
		{"another request with the cancellation's RequestID", request(id(303), "1", "4.1.1", "", read411), 400, "", "REPLAY"},
		{"another device's request with the cancellation's counter", request(fmt.Sprintf("%s:%s:%d", supplier, "00-DB-00-00-00-00-E0-02", 303), "1", "4.1.1", "", read411), 400, "", "REPLAY"},
		{"a later counter", request(id(304), "1", "4.1.1", "", read411), 200, "I99", ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			a := e.post(t, "serviceS", supplier, tc.doc)
			if a.status != tc.status || (tc.code != "" && (a.resp == nil || a.resp.ResponseCode != tc.code)) || (tc.reason != "" && a.reason != tc.reason) {
				t.Fatalf("%d %s %s, want %d %s %s", a.status, a.reason, a.body, tc.status, tc.code, tc.reason)
			}
		})
	}
	if got := e.state(t, id(300)); got != "cancelled" {
		t.Fatalf("the Future Dated 3.1 is %s, want cancelled", got)
	}
	if got := e.state(t, id(301)); got != "pending" {
		t.Fatalf("the Future Dated 6.24 is %s, want pending: a cancellation of 3.1 leaves it", got)
	}
}

// TestRealBodies: bodies as DCC Boxed's templates write them
// (SmartDCCInnovation/duis-templates) pass the gateway's validation, not
// refused MALFORMED (an HTTP 400).
func TestRealBodies(t *testing.T) {
	e := newEnv(t)
	n := 400
	later := e.srv.G.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ note, cv, srv, body string }{
		{"3.5 Disable Privacy PIN: no PIN", "1", "3.5", `<sr:DisablePrivacyPIN/>`},
		{"3.2 RestrictionDateTime", "1", "3.2", `<sr:RestrictAccessForChangeOfTenancy><sr:RestrictionDateTime>2025-12-27T15:45:32.00Z</sr:RestrictionDateTime></sr:RestrictAccessForChangeOfTenancy>`},
		{"6.13 the Power Event log", "1", "6.13", `<sr:ReadEventOrSecurityLog><sr:ReadLogPeriod><sr:StartDateTime>2025-12-31T00:00:00.00Z</sr:StartDateTime><sr:EndDateTime>2026-01-01T00:00:00.00Z</sr:EndDateTime></sr:ReadLogPeriod><sr:LogToRead>PowerEvent</sr:LogToRead></sr:ReadEventOrSecurityLog>`},
		{"2.2 the UTRN alone", "1", "2.2", `<sr:TopUpDevice><sr:UTRN>73946144332040217315</sr:UTRN></sr:TopUpDevice>`},
		{"4.17 a period", "1", "4.17", `<sr:RetrieveDailyConsumptionLog><sr:ReadLogPeriod><sr:StartDateTime>2025-12-01T09:00:00.00Z</sr:StartDateTime><sr:EndDateTime>2025-12-05T11:05:00.00Z</sr:EndDateTime></sr:ReadLogPeriod></sr:RetrieveDailyConsumptionLog>`},
		{"7.7 no switch named", "1", "7.7", `<sr:ReadALCSData/>`},
		{"6.22 alert settings by GBCS code", "1", "6.22", `<sr:ConfigureAlertBehaviour><sr:ElectricitySupplierHANAlertSettings><sr:SupplierESMECommon><sr:x810D>Enable</sr:x810D><sr:x8119>Disable</sr:x8119></sr:SupplierESMECommon></sr:ElectricitySupplierHANAlertSettings></sr:ConfigureAlertBehaviour>`},
		// Critical: the answer is the Pre-Command (I0).
		{"1.1.1 an electricity TOU tariff", "4", "1.1.1", `<sr:UpdateImportTariffPrimaryElement><sr:ElecTariffElements><sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:SwitchingTable/></sr:ElecTariffElements><sr:PriceElements><sr:ElectricityPriceElements><sr:StandingCharge>20000</sr:StandingCharge><sr:StandingChargeScale>-5</sr:StandingChargeScale><sr:PriceScale>-5</sr:PriceScale><sr:TOUTariff><sr:TOUPrice index="1">2121</sr:TOUPrice><sr:TOUPrice index="2">3127</sr:TOUPrice></sr:TOUTariff></sr:ElectricityPriceElements></sr:PriceElements></sr:UpdateImportTariffPrimaryElement>`},
		{"1.5 a balance reset", "4", "1.5", `<sr:UpdateMeterBalance><sr:PrepaymentMode><sr:ResetMeterBalance/></sr:PrepaymentMode></sr:UpdateMeterBalance>`},
		{"11.3 an image by its hash", "4", "11.3", `<sr:ActivateFirmware><sr:FirmwareHash>AA758690730934FF0685AA758690730934FF0685657788990011223344556677</sr:FirmwareHash></sr:ActivateFirmware>`},
		{"6.14.2 the Device's ALC calendar", "4", "6.14.2", `<sr:UpdateDeviceConfigurationALCScheduler><sr:ExecutionDateTime>` + later + `</sr:ExecutionDateTime><sr:ALCSHCALCSConnectionSchedule><sr:ActivateDeactivateSwitch index="1"><sr:ActivateSwitch/></sr:ActivateDeactivateSwitch><sr:ALCSScheduleDatesAndTime><sr:SwitchTime>06:00:00.00Z</sr:SwitchTime></sr:ALCSScheduleDatesAndTime></sr:ALCSHCALCSConnectionSchedule></sr:UpdateDeviceConfigurationALCScheduler>`},
		{"6.14.1 a switch's description", "4", "6.14.1", `<sr:UpdateDeviceConfigurationALCDescriptions><sr:ExecutionDateTime>` + later + `</sr:ExecutionDateTime><sr:ALCSHCALCSDescription index="2"><sr:SwitchDescription>Label2</sr:SwitchDescription></sr:ALCSHCALCSDescription></sr:UpdateDeviceConfigurationALCDescriptions>`},
	} {
		t.Run(tc.note, func(t *testing.T) {
			n++
			endpoint, want := "serviceS", "I99"
			if tc.cv == "4" {
				endpoint, want = "serviceT", "I0"
			}
			a := e.post(t, endpoint, supplier, request(fmt.Sprintf("%s:%s:%d", supplier, esme, n), tc.cv, tc.srv, "", tc.body))
			if a.resp == nil || a.resp.ResponseCode != want || (tc.cv == "4" && len(a.resp.PreCommand) == 0) {
				t.Fatalf("%d %s", a.status, a.body)
			}
		})
	}
}

// TestAnswerCarriesTheRequestsVersion: the synchronous sr:Response carries
// the schemaVersion of the request it answers (any the spec accepts), an
// answer of the envelope's checks too; a version the spec does not accept
// is refused, with no sr:Response. The results POSTed later:
// TestOutboxResultsCarryTheRequestsVersion.
func TestAnswerCarriesTheRequestsVersion(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		note, version, endpoint, cv, srv, body string
		status                                 int
		code                                   string
	}{
		{"5.4, acknowledged", "5.4", "serviceS", "1", "4.1.1", read411, 200, "I99"},
		{"5.2, acknowledged", "5.2", "serviceS", "1", "4.1.1", read411, 200, "I99"},
		{"5.10, acknowledged", "5.10", "serviceS", "1", "4.1.1", read411, 200, "I99"},
		{"5.2, a Pre-Command", "5.2", "serviceT", "4", "7.1", `<sr:EnableSupply/>`, 200, "I0"},
		{"5.2, the wrong endpoint", "5.2", "serviceT", "1", "4.1.1", read411, 200, "E13"},
		{"5.2, a variant the service does not permit", "5.2", "serviceT", "4", "4.1.1", read411, 200, "E12"},
		{"4.0, not accepted", "4.0", "serviceS", "1", "4.1.1", read411, 400, ""},
	}
	for i, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			id := fmt.Sprintf("%s:%s:%d", supplier, esme, 800+i)
			a := e.post(t, tc.endpoint, supplier, requestIn(tc.version, id, tc.cv, tc.srv, "", tc.body))
			if a.status != tc.status {
				t.Fatalf("%d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.code == "" {
				return
			}
			if a.resp.ResponseCode != tc.code || a.resp.SchemaVersion != tc.version {
				t.Fatalf("%s in schemaVersion %q, want %s in %q\n%s", a.resp.ResponseCode, a.resp.SchemaVersion, tc.code, tc.version, a.body)
			}
		})
	}
}

// TestNonDeviceTarget: a Non-Device request's RequestID targets the DCC's
// ID of the world served (in the Boxed world spec/duis.cue's boxed.dcc, as
// its gateway.pem names), any other target is refused as a malformed
// RequestID is; and the results of Non-Device requests POSTed later carry
// a ResponseID from that same ID.
func TestNonDeviceTarget(t *testing.T) {
	tests := []struct {
		note   string
		boxed  bool
		target string
		status int
		reason string
	}{
		{"boxed: the Boxed DCC", true, "90-B3-D5-1F-30-00-00-02", 200, ""},
		{"boxed: another EUI-64", true, "11-22-33-44-55-66-77-88", 400, "MALFORMED"},
		{"boxed: the spec's own DCC ID, not this world's", true, "00-00-00-00-00-00-00-02", 400, "MALFORMED"},
		{"demo: the DCC ID the server was given", false, dccID, 200, ""},
		{"demo: another EUI-64", false, "11-22-33-44-55-66-77-88", 400, "MALFORMED"},
	}
	for i, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e := newEnvWorld(t, func(*server.Config) {}, tc.boxed)
			user, dev := supplier, esme
			if tc.boxed {
				user, dev = e.srv.G.Spec().DUIS.Boxed.Users[0].ID, "00-DB-12-34-56-78-90-A0"
			}
			ost, ok := duisapi.OutboxStoreOf(e.srv.Store)
			if !ok {
				t.Fatal("the store has no DUIS outbox")
			}
			e.duis.Requests = ost
			rv := &receiver{got: map[string]int{}}
			hs := httptest.NewServer(rv)
			t.Cleanup(hs.Close)
			if err := ost.PutDUISReceiver(t.Context(), user, hs.URL); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("%s:%s:%d", user, tc.target, 700+i)
			a := e.post(t, "serviceD", user, request(id, "8", "12.1", "", `<sr:RequestWANMatrix><sr:PostCode>AB1 2CD</sr:PostCode></sr:RequestWANMatrix>`))
			if a.status != tc.status || (tc.reason != "" && a.reason != tc.reason) {
				t.Fatalf("%d %s %s, want %d %s", a.status, a.reason, a.body, tc.status, tc.reason)
			}
			// A Device Service's target is the Device, not the DCC.
			if a := e.post(t, "serviceS", user, request(fmt.Sprintf("%s:%s:%d", user, dev, 800+i), "1", "4.1.1", "", read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
				t.Fatalf("a Device Service: %d %s", a.status, a.body)
			}
			if tc.status != 200 {
				return
			}
			// A Non-Device request about a Device (8.2): its result is the
			// DCC's, not the Device's, which sends nothing.
			inv := e.post(t, "serviceD", user, request(fmt.Sprintf("%s:%s:%d", user, tc.target, 900+i), "8", "8.2", "", `<sr:ReadInventory><sr:DeviceID>`+dev+`</sr:DeviceID></sr:ReadInventory>`))
			if inv.status != 200 {
				t.Fatalf("8.2: %d %s", inv.status, inv.body)
			}
			e.srv.G.WaitIdle(t.Context())
			ob := &duisapi.Outbox{S: e.duis, Store: ost, Now: e.srv.G.Now}
			if _, err := ob.Collect(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := ob.Send(t.Context()); err != nil {
				t.Fatal(err)
			}
			rv.mu.Lock()
			defer rv.mu.Unlock()
			var found int
			for rid := range rv.got {
				if strings.HasPrefix(rid, tc.target+":") {
					found++
				} else if !strings.HasPrefix(rid, dev+":") {
					t.Errorf("ResponseID %s: neither the Device's nor the DCC's %s", rid, tc.target)
				}
			}
			if found != 2 { // 12.1's and 8.2's
				t.Errorf("%d results with a ResponseID from the DCC %s, want 2 (12.1, 8.2): %v", found, tc.target, rv.got)
			}
		})
	}
}
