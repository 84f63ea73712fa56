package server

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/runtime/pki"
)

func duisRequest(id, srv, ref, body string) string {
	return fmt.Sprintf(`<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4"><sr:Header>`+
		`<sr:RequestID>%s</sr:RequestID><sr:CommandVariant>1</sr:CommandVariant><sr:ServiceReference>%s</sr:ServiceReference>`+
		`<sr:ServiceReferenceVariant>%s</sr:ServiceReferenceVariant></sr:Header><sr:Body>%s</sr:Body></sr:Request>`, id, ref, srv, body)
}

// postDUIS signs doc with the user's DUIS key of srv's DUISDir and POSTs
// it to serviceS over mutual TLS.
func postDUIS(t *testing.T, srv *Server, user, doc string) *duis.DecodedResponse {
	t.Helper()
	dir := srv.DUISDir()
	keyPEM, err := os.ReadFile(filepath.Join(dir, user+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, user+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := duis.ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	d, err := duis.Parse([]byte(doc), duis.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := duis.Sign(d, key, cert.IssuerSerial())
	if err != nil {
		t.Fatal(err)
	}
	res, err := userHTTP(t, srv, user).Post(srv.URL+"/api/v1/serviceS", "application/xml", bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	rd, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	gwPEM, _ := os.ReadFile(filepath.Join(dir, "gateway.pem"))
	gw, _ := duis.ParseCertPEM(gwPEM)
	if _, err := duis.Verify(rd, func(duis.IssuerSerial) *ecdsa.PublicKey { return gw.PublicKey }); err != nil {
		t.Fatalf("the gateway's signature: %v", err)
	}
	r, err := duis.DecodeResponse(rd, "http://www.dccinterface.co.uk/ServiceUserGateway")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestServeDUIS(t *testing.T) {
	srv := startDemo(t)
	type posted struct {
		body   []byte
		header http.Header
	}
	got := make(chan posted, 4)
	rv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- posted{b, r.Header.Clone()}
	}))
	t.Cleanup(rv.Close)
	if _, err := srv.StartDUIS(t.Context(), DUISOptions{Receivers: map[string]string{supplier: rv.URL}, Poll: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	id := supplier + ":" + meter + ":77"
	if r := postDUIS(t, srv, supplier, duisRequest(id, "4.1.1", "4.1", "<sr:ReadInstantaneousImportRegisters/>")); r.ResponseCode != "I99" {
		t.Fatalf("%+v", r)
	}
	select {
	case p := <-got:
		doc, err := duis.Parse(p.body, duis.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := duis.DecodeResponse(doc, "http://www.dccinterface.co.uk/ServiceUserGateway")
		r.ReadHeaders(p.header) // our state travels beside the DUIS document
		if r.RequestID != id || r.ResponseCode != "I0" || r.SRV != "4.1.1" || r.State != "accepted" {
			t.Fatalf("result %+v", r)
		}
	case <-t.Context().Done():
		t.Fatal("no result at the Receive Response address")
	}
}

func TestBoxedWorld(t *testing.T) {
	srv, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if ok, err := srv.SeedBoxed(t.Context()); err != nil || !ok {
		t.Fatalf("seed: %v %v", ok, err)
	}
	// A restart on the same store: nothing to load, and no error.
	if ok, err := srv.SeedBoxed(t.Context()); err != nil || ok {
		t.Fatalf("seed again: %v %v, want nothing loaded and no error", ok, err)
	}
	for id, want := range map[string]string{"00-DB-12-34-56-78-90-A0": "ESME", "00-DB-12-34-56-78-90-A1": "GSME", "00-DB-12-34-56-78-90-A2": "CHF"} {
		d, err := srv.Store.GetDevice(t.Context(), id)
		if err != nil || d.Type != want || d.Status != "commissioned" {
			t.Errorf("%s: %+v %v", id, d, err)
		}
	}
	if _, err := srv.StartDUIS(t.Context(), DUISOptions{}); err != nil {
		t.Fatal(err)
	}
	const sup = "90-B3-D5-1F-30-01-00-00"
	r := postDUIS(t, srv, sup, duisRequest(sup+":00-DB-12-34-56-78-90-A0:1000", "4.1.1", "4.1", "<sr:ReadInstantaneousImportRegisters/>"))
	if r.ResponseCode != "I99" {
		t.Fatalf("%+v", r)
	}
	srv.G.WaitIdle(t.Context())
	rec, err := srv.Store.GetRequest(t.Context(), sup+":00-DB-12-34-56-78-90-A0:1000")
	if err != nil || rec.State != "accepted" {
		t.Fatalf("%+v %v", rec, err)
	}
	// DCC Boxed's network operator originates network data reads of the
	// electricity meter (ECS17c, 4.16).
	const no = "90-B3-D5-1F-30-02-00-00"
	if r := postDUIS(t, srv, no, duisRequest(no+":00-DB-12-34-56-78-90-A0:1001", "4.16", "4.16", "<sr:ReadActivePowerImport/>")); r.ResponseCode != "I99" {
		t.Fatalf("4.16 from the network operator: %+v", r)
	}
}

// TestBoxedWorldNeedsItsStore: --world boxed on a store that holds another
// world is an error naming the cure, not a gateway whose Boxed users do
// not exist.
func TestBoxedWorldNeedsItsStore(t *testing.T) {
	srv, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.SeedDemo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if ok, err := srv.SeedBoxed(t.Context()); err == nil || ok || !strings.Contains(err.Error(), "fresh --data") {
		t.Fatalf("boxed over the demo: %v %v, want an error naming a fresh --data", ok, err)
	}
}

// TestOneGatewayASQLiteFile: a second gateway on the SQLite file another
// serves is refused, saying so (each would run the due work); once the
// first stops, it starts.
func TestOneGatewayASQLiteFile(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng}); err == nil || !strings.Contains(err.Error(), "another dccgate serve") {
		if second != nil {
			second.Close()
		}
		first.Close()
		t.Fatalf("a second gateway on the file: %v, want refused", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Start(t.Context(), Config{DataDir: dir, Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng})
	if err != nil {
		t.Fatalf("once the first stopped: %v", err)
	}
	again.Close()
}
