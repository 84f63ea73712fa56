package duisapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/duisapi"
	"github.com/dccgate/dccgate/runtime/store"
)

// receiver is a user's Receive Response service that can be down.
type receiver struct {
	mu       sync.Mutex
	down     bool
	attempts int
	got      map[string]int // ResponseID -> times received while up
	docs     []*duis.DecodedResponse
}

// withReceiver makes e's DUIS interface keep its requests in the outbox's
// store and registers for supplier a receiver at path on a test server
// (down: answering 503 until told otherwise).
func withReceiver(t *testing.T, e *env, path string, down bool) (duisapi.OutboxStore, *receiver) {
	t.Helper()
	ost, ok := duisapi.OutboxStoreOf(e.srv.Store)
	if !ok {
		t.Fatal("the store has no DUIS outbox")
	}
	e.duis.Requests = ost
	rv := &receiver{got: map[string]int{}, down: down}
	hs := httptest.NewServer(rv)
	t.Cleanup(hs.Close)
	if err := ost.PutDUISReceiver(t.Context(), supplier, hs.URL+path); err != nil {
		t.Fatal(err)
	}
	return ost, rv
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.attempts++
	if rv.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	b, _ := io.ReadAll(r.Body)
	doc, err := duis.Parse(b, duis.DefaultLimits)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := ""
	if x := doc.Root.Find(nsSR, "ResponseID"); x != nil {
		id = x.Text()
	}
	rv.got[id]++
	d, _ := duis.DecodeResponse(doc, nsSR)
	d.ReadHeaders(r.Header)
	if bytes.Contains(b, []byte(duis.NSDCCGate)) {
		d.State = "dg: in the document" // the DUIS XSD allows no foreign attributes
	}
	d.Message = string(b) // the signed bytes, to verify below
	rv.docs = append(rv.docs, d)
}

func TestOutboxDeliversEveryResultExactlyOnce(t *testing.T) {
	e := newEnv(t)
	ost, rv := withReceiver(t, e, "/receive", true)
	vclock := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	ob := &duisapi.Outbox{S: e.duis, Store: ost, Now: vclock.Now, MinBackoff: time.Second, MaxBackoff: time.Minute}

	// Three reads and a critical Enable Supply, while the receiver is down.
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("%s:%s:%d", supplier, esme, 500+i)
		ids = append(ids, id)
		if a := e.post(t, "serviceS", supplier, request(id, "1", fmt.Sprintf("4.1.%d", i+1), "", []string{read411, `<sr:ReadInstantaneousImportTOUMatrices/>`, `<sr:ReadInstantaneousImportTOUWithBlocksMatrices/>`}[i])); a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("request %d: %s", i, a.body)
		}
	}
	critical := fmt.Sprintf("%s:%s:%d", supplier, esme, 510)
	a := e.post(t, "serviceT", supplier, request(critical, "4", "7.1", "", `<sr:EnableSupply/>`))
	if a.resp == nil || a.resp.ResponseCode != "I0" {
		t.Fatalf("transform: %s", a.body)
	}
	signedPC := signPreCommand(t, e, a.resp.PreCommand)
	if a := e.post(t, "serviceS", supplier, request(critical, "5", "7.1", "", `<sr:SignedPreCommand><sr:GBCSPayload>`+duis.EncodeBase64(signedPC)+`</sr:GBCSPayload></sr:SignedPreCommand>`)); a.resp == nil || a.resp.ResponseCode != "I99" {
		t.Fatalf("CV 5: %s", a.body)
	}
	ids = append(ids, critical)
	e.srv.G.WaitIdle(t.Context())

	n, err := ob.Collect(t.Context())
	if err != nil || n != len(ids) {
		t.Fatalf("collected %d (%v), want %d", n, err, len(ids))
	}
	step := func(advance time.Duration) int {
		t.Helper()
		vclock.Advance(advance)
		sent, err := ob.Send(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return sent
	}
	if sent := step(0); sent != 0 || rv.attempts != len(ids) {
		t.Fatalf("receiver down: sent %d, attempts %d", sent, rv.attempts)
	}
	if sent := step(0); sent != 0 || rv.attempts != len(ids) {
		t.Fatalf("retried before the backoff: attempts %d", rv.attempts)
	}
	if sent := step(time.Second); sent != 0 || rv.attempts != 2*len(ids) {
		t.Fatalf("after 1s: attempts %d", rv.attempts)
	}
	if sent := step(time.Second); sent != 0 || rv.attempts != 2*len(ids) {
		t.Fatalf("the second backoff is 2s: attempts %d", rv.attempts)
	}
	rv.mu.Lock()
	rv.down = false
	rv.mu.Unlock()
	if sent := step(time.Second); sent != len(ids) {
		t.Fatalf("receiver back: sent %d, want %d", sent, len(ids))
	}
	// Nothing more, however long we wait, and a restarted outbox (a new
	// one on the same store) neither collects nor sends again.
	again := &duisapi.Outbox{S: e.duis, Store: ost, Now: vclock.Now}
	if n, err := again.Collect(t.Context()); n != 0 || err != nil {
		t.Fatalf("collected again: %d %v", n, err)
	}
	if sent := step(time.Hour); sent != 0 {
		t.Fatalf("sent again: %d", sent)
	}
	if sent, _ := again.Send(t.Context()); sent != 0 {
		t.Fatalf("a restarted outbox sent again: %d", sent)
	}
	if len(rv.got) != len(ids) {
		t.Fatalf("receiver got %d distinct results, want %d: %v", len(rv.got), len(ids), rv.got)
	}
	for id, times := range rv.got {
		if times != 1 {
			t.Errorf("%s received %d times", id, times)
		}
	}
	seen := map[string]string{}
	for _, d := range rv.docs {
		doc, _ := duis.Parse([]byte(d.Message), duis.DefaultLimits)
		if _, err := duis.Verify(doc, func(is duis.IssuerSerial) *ecdsa.PublicKey { return e.gwCert.PublicKey }); err != nil {
			t.Fatalf("a result's signature: %v", err)
		}
		if d.ResponseCode != "I0" || d.State != "accepted" {
			t.Errorf("%s: %s %s %s", d.RequestID, d.ResponseCode, d.State, d.Reason)
		}
		seen[d.RequestID] = d.SRV
	}
	want := map[string]string{ids[0]: "4.1.1", ids[1]: "4.1.2", ids[2]: "4.1.3", critical: "7.1"}
	for id, srv := range want {
		if seen[id] != srv {
			t.Errorf("result of %s: SRV %q, want %q", id, seen[id], srv)
		}
	}
}

func signPreCommand(t *testing.T, e *env, pc []byte) []byte {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join(e.srv.PKI.Dir, "users", supplier+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := precommand.Sign(pc, k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestOutboxAlertsAndFutureDated(t *testing.T) {
	e := newEnv(t)
	ost, rv := withReceiver(t, e, "", false)
	// A Future Dated request: ExecutionDateTime in the Body element.
	at := e.srv.G.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	id := fmt.Sprintf("%s:%s:%d", supplier, esme, 600)
	body := `<sr:DisplayMessage><sr:ExecutionDateTime>` + at + `</sr:ExecutionDateTime><sr:SupplierMessage>Hello</sr:SupplierMessage></sr:DisplayMessage>`
	if a := e.post(t, "serviceS", supplier, request(id, "1", "3.1", "", body)); a.resp == nil || a.resp.ResponseCode != "I99" || a.resp.State != "pending" {
		t.Fatalf("future dated: %s", a.body)
	}
	rec, err := e.srv.Store.GetRequest(t.Context(), id)
	if err != nil || rec.Category != "future_dated" || !rec.ExecuteAt.Equal(e.srv.G.Now().Add(2*time.Hour).Truncate(time.Second)) {
		t.Fatalf("stored %+v %v", rec, err)
	}
	// An alert on the user's stream goes out as a signed DeviceAlertMessage.
	if _, err := e.srv.Store.AppendDeliveries(t.Context(), []store.Delivery{{UserID: supplier, Kind: "alert", Code: "A10", DeviceID: esme,
		Payload: []byte(`{"service":"A1","name":"Low credit"}`), CreatedAt: e.srv.G.Now()}}); err != nil {
		t.Fatal(err)
	}
	ob := &duisapi.Outbox{S: e.duis, Store: ost}
	if _, err := ob.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sent, err := ob.Send(t.Context()); err != nil || sent != 1 {
		t.Fatalf("sent %d %v", sent, err)
	}
	if len(rv.docs) != 1 || rv.docs[0].AlertCode != "A10" || rv.docs[0].ResponseCode != "I0" {
		t.Fatalf("alert: %+v", rv.docs)
	}
}

// TestOutboxSendersShareTheStore: outboxes of several processes on one
// store send each message once between them (a sender claims a message
// before it POSTs).
func TestOutboxSendersShareTheStore(t *testing.T) {
	e := newEnv(t)
	ost, rv := withReceiver(t, e, "/receive", false)
	const n = 12
	for i := range n {
		id := fmt.Sprintf("%s:%s:%d", supplier, esme, 700+i)
		if a := e.post(t, "serviceS", supplier, request(id, "1", "4.1.1", "", read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("request %d: %s", i, a.body)
		}
	}
	e.srv.G.WaitIdle(t.Context())
	senders := []*duisapi.Outbox{{S: e.duis, Store: ost}, {S: e.duis, Store: ost}, {S: e.duis, Store: ost}}
	if _, err := senders[0].Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	total := make([]int, len(senders))
	for i, ob := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total[i], _ = ob.Send(t.Context())
		}()
	}
	wg.Wait()
	sum := 0
	for _, x := range total {
		sum += x
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if sum != len(rv.got) || rv.attempts != len(rv.got) {
		t.Fatalf("sent %d (per sender %v), receiver had %d attempts for %d messages", sum, total, rv.attempts, len(rv.got))
	}
	for id, times := range rv.got {
		if times != 1 {
			t.Fatalf("%s received %d times", id, times)
		}
	}
	if len(rv.got) < n {
		t.Fatalf("received %d, want at least the %d results", len(rv.got), n)
	}
}

// roundCounter is an outbox store that reports each of Run's rounds (a
// round begins with DUISReceivers).
type roundCounter struct {
	duisapi.OutboxStore
	rounds chan struct{}
}

func (c *roundCounter) DUISReceivers(ctx context.Context) (map[string]string, error) {
	select {
	case c.rounds <- struct{}{}:
	case <-ctx.Done(): // the test is over
	}
	return c.OutboxStore.DUISReceivers(ctx)
}

// TestOutboxRunWakesOnDeliveriesOnlyForReceivers: with no Receive
// Response address, new deliveries do not start a round (each is reads
// of the store, with almost every commit); the poll does. With one, a
// delivery to its user is sent without waiting for the poll.
func TestOutboxRunWakesOnDeliveriesOnlyForReceivers(t *testing.T) {
	e := newEnv(t)
	ost, _ := duisapi.OutboxStoreOf(e.srv.Store)
	e.duis.Requests = ost
	counted := &roundCounter{OutboxStore: ost, rounds: make(chan struct{}, 64)}
	ob := &duisapi.Outbox{S: e.duis, Store: counted}
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ob.Run(ctx, func() <-chan time.Time { return tick })
	}()
	defer func() { cancel(); <-done }()
	<-counted.rounds // the first round, at once

	for i := range 3 {
		id := fmt.Sprintf("%s:%s:%d", supplier, esme, 700+i)
		if a := e.post(t, "serviceS", supplier, request(id, "1", "4.1.1", "", read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
			t.Fatalf("request %d: %s", i, a.body)
		}
		e.srv.G.WaitIdle(t.Context()) // its response is on the stream
		tick <- time.Now()
		<-counted.rounds // the poll's round
		if n := len(counted.rounds); n != 0 {
			t.Fatalf("request %d: %d rounds more than the polls, with no receiver", i, n)
		}
	}

	// With a receiver, its user's next delivery goes out at once.
	rv := &receiver{got: map[string]int{}}
	got := make(chan string, 1024) // the RequestIDs of the results received
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rv.ServeHTTP(w, r)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		if len(rv.docs) > 0 {
			got <- rv.docs[len(rv.docs)-1].RequestID
		}
	}))
	t.Cleanup(hs.Close)
	if err := ost.PutDUISReceiver(t.Context(), supplier, hs.URL); err != nil {
		t.Fatal(err)
	}
	tick <- time.Now() // the poll finds the receiver (and sends the user's results so far)
	<-counted.rounds
	id := fmt.Sprintf("%s:%s:%d", supplier, esme, 710)
	if a := e.post(t, "serviceS", supplier, request(id, "1", "4.1.1", "", read411)); a.resp == nil || a.resp.ResponseCode != "I99" {
		t.Fatalf("request with a receiver: %s", a.body)
	}
	for {
		select {
		case r := <-got:
			if r == id {
				return
			}
		case <-counted.rounds: // rounds woken by deliveries, as they should be
		case <-time.After(30 * time.Second):
			t.Fatal("the result for the receiver waited for the poll")
		}
	}
}

// TestOutboxResultsCarryTheRequestsVersion: a result POSTed later carries
// the schemaVersion of the request it answers, as the synchronous answer
// does (a critical one's, that of its transform and of its signed
// Pre-Command); what answers no sr:Request, an alert or the result of a
// request sent over the Connect API, carries the spec's own version.
func TestOutboxResultsCarryTheRequestsVersion(t *testing.T) {
	e := newEnv(t)
	ost, rv := withReceiver(t, e, "", false)
	own := e.srv.G.Spec().DUIS.OwnSchemaVersion
	id := func(n int) string { return fmt.Sprintf("%s:%s:%d", supplier, esme, n) }
	want := map[string]string{} // RequestID (or alert code) -> schemaVersion
	for i, v := range []string{"5.2", "5.4", "5.10"} {
		if a := e.post(t, "serviceS", supplier, requestIn(v, id(900+i), "1", "4.1.1", "", read411)); a.resp == nil || a.resp.SchemaVersion != v {
			t.Fatalf("%s: %s", v, a.body)
		}
		want[id(900+i)] = v
	}
	critical := id(910)
	a := e.post(t, "serviceT", supplier, requestIn("5.2", critical, "4", "7.1", "", `<sr:EnableSupply/>`))
	if a.resp == nil || a.resp.ResponseCode != "I0" {
		t.Fatalf("transform: %s", a.body)
	}
	signedPC := signPreCommand(t, e, a.resp.PreCommand)
	if a := e.post(t, "serviceS", supplier, requestIn("5.2", critical, "5", "7.1", "", `<sr:SignedPreCommand><sr:GBCSPayload>`+duis.EncodeBase64(signedPC)+`</sr:GBCSPayload></sr:SignedPreCommand>`)); a.resp == nil || a.resp.SchemaVersion != "5.2" {
		t.Fatalf("CV 5: %s", a.body)
	}
	want[critical] = "5.2"
	overConnect, err := e.srv.G.Submit(t.Context(), supplier, &engine.Request{UserID: supplier, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil {
		t.Fatal(err)
	}
	want[overConnect.ID] = own
	if _, err := e.srv.Store.AppendDeliveries(t.Context(), []store.Delivery{{UserID: supplier, Kind: "alert", Code: "A10", DeviceID: esme,
		Payload: []byte(`{"service":"A1","name":"Low credit"}`), CreatedAt: e.srv.G.Now()}}); err != nil {
		t.Fatal(err)
	}
	want["A10"] = own
	e.srv.G.WaitIdle(t.Context())

	ob := &duisapi.Outbox{S: e.duis, Store: ost}
	if _, err := ob.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Send(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range rv.docs {
		key := d.RequestID
		if d.AlertCode != "" {
			key = d.AlertCode
		}
		got[key] = d.SchemaVersion
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: schemaVersion %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("received %v, want %v", got, want)
	}
}
