package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	_ "github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

const (
	alpha = "00-00-00-00-00-00-0A-01" // the registered supplier, whose credential the meter holds
	beta  = "00-00-00-00-00-00-0B-01" // another supplier, registered with its own certificate
	chf   = "00-DB-00-00-00-00-C0-01"
	esme  = "00-DB-00-00-00-00-E0-01"
	chf2  = "00-DB-00-00-00-00-C0-02"
	esme2 = "00-DB-00-00-00-00-E0-02"
)

type world struct {
	t    testing.TB
	g    *gateway.Gateway
	keys map[string]*ecdsa.PrivateKey
	// ctx is what submit sends requests with (nil: the test's).
	ctx context.Context
}

// delivered counts the messages on user's stream that match.
func delivered(t testing.TB, g *gateway.Gateway, user string, match func(store.Delivery) bool) int {
	t.Helper()
	ds, err := g.Store().Deliveries(t.Context(), user, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if match(d) {
			n++
		}
	}
	return n
}

// alertOf matches the alerts about device.
func alertOf(device string) func(store.Delivery) bool {
	return func(d store.Delivery) bool { return d.Kind == "alert" && d.DeviceID == device }
}

// responseTo matches the Service Responses to request id.
func responseTo(id string) func(store.Delivery) bool {
	return func(d store.Delivery) bool { return d.Kind == "response" && d.RequestID == id }
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldEager(t, 0)
}

// newWorldEager is newWorld with Config.EagerFleet set to eager.
func newWorldEager(t *testing.T, eager int) *world {
	t.Helper()
	return newWorldWith(t, eager, nil)
}

// newWorldWith is newWorldEager on a store wrapped by wrap (nil: as is).
func newWorldWith(t *testing.T, eager int, wrap func(store.Store) store.Store) *world {
	t.Helper()
	return newWorldConfig(t, func(c *gateway.Config) { c.EagerFleet = eager }, wrap)
}

// newWorldConfig is newWorldWith with the gateway's Config set by cfg.
func newWorldConfig(t testing.TB, cfg func(*gateway.Config), wrap func(store.Store) store.Store) *world {
	t.Helper()
	return newWorldOn(t, "sqlite://"+filepath.Join(t.TempDir(), "gw.db"), cfg, wrap)
}

// newWorldOn is newWorldConfig on the store at dsn (store.Open).
func newWorldOn(t testing.TB, dsn string, cfg func(*gateway.Config), wrap func(store.Store) store.Store) *world {
	t.Helper()
	ctx := t.Context()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if wrap != nil {
		st = wrap(st)
	}
	v := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	c := gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: v, Virtual: v, Workers: 2}
	cfg(&c)
	g, err := gateway.New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, g: g, keys: map[string]*ecdsa.PrivateKey{}}
	var users []store.User
	for _, id := range []string{alpha, beta} {
		iss, err := ca.IssueUser(id, "EIS")
		if err != nil {
			t.Fatal(err)
		}
		if w.keys[id], err = pki.ParseKey(iss.KeyPEM); err != nil {
			t.Fatal(err)
		}
		users = append(users, store.User{ID: id, Role: "EIS", Party: id, CertPEM: string(iss.CertPEM)})
	}
	err = g.Reset(ctx, gateway.World{
		Users: users,
		Registration: []store.Registration{{MPxN: "1900000000011", Fuel: "electricity", ImportSupplier: alpha,
			NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: "LS1 1AA", Premises: "7"}},
		Inventory: []store.Device{
			{ID: chf, Type: "CHF", Status: "commissioned"},
			{ID: esme, Type: "ESME", Status: "commissioned", MPxN: "1900000000011", CHF: chf},
			{ID: chf2, Type: "CHF", Status: "commissioned"},
			{ID: esme2, Type: "ESME", Status: "commissioned", MPxN: "1900000000012", CHF: chf2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return w
}

// submit sends a request from user and, when a Pre-Command comes back,
// signs it with signer's key; it returns the request once its work is done.
func (w *world) submit(user, signer string, req engine.Request) store.Request {
	w.t.Helper()
	return w.submitTo(user, signer, esme, req)
}

// submitTo is submit of a request to device.
func (w *world) submitTo(user, signer, device string, req engine.Request) store.Request {
	w.t.Helper()
	ctx := w.ctx
	if ctx == nil {
		ctx = w.t.Context()
	}
	req.UserID, req.DeviceID = user, device
	r, err := w.g.Submit(ctx, user, &req)
	if err != nil {
		w.t.Fatal(err)
	}
	if r.State == gateway.StateAwaitingSignature {
		signed, err := precommand.Sign(r.PreCommand, w.keys[signer])
		if err != nil {
			w.t.Fatal(err)
		}
		pc, sig, err := precommand.SplitSigned(signed)
		if err != nil {
			w.t.Fatal(err)
		}
		if r, err = w.g.SubmitSigned(ctx, user, r.ID, pc, sig); err != nil {
			w.t.Fatal(err)
		}
	}
	w.g.WaitIdle(ctx)
	return w.get(r.ID)
}

func (w *world) get(id string) store.Request {
	w.t.Helper()
	r, err := w.g.Store().GetRequest(w.t.Context(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func expect(t *testing.T, r store.Request, state, reason, message string) {
	t.Helper()
	if r.State != state || r.Reason != reason || !strings.Contains(r.Message, message) {
		t.Fatalf("request %s: %s %s %q, want %s %s %q", r.ID, r.State, r.Reason, r.Message, state, reason, message)
	}
}

// TestDevicesVerifyCommands: the meter checks the Commands the gateway
// sends it with real keys. The registered supplier's signed commands and
// MAC'd reads run; another supplier's signature, which the gateway accepts
// (it is that user's own), is refused by the meter; and a Signed
// Pre-Command changed in the store after the gateway verified it is refused
// by the meter too: the device trusts its credentials, not the gateway.
func TestDevicesVerifyCommands(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "7.2"}), gateway.StateAccepted, "", "")
	expect(t, w.submit(alpha, alpha, engine.Request{Service: "4.1", Body: map[string]any{"register": "total"}}), gateway.StateAccepted, "", "")
	expect(t, w.submit(beta, beta, engine.Request{Service: "7.1"}), gateway.StateRejected, "DEVICE_REJECTED",
		`the signature does not verify under the key of the holder of the supplier "`+alpha+`" credential`)

	// Future dated, signed by alpha and verified by the gateway; then the
	// stored signature is swapped for beta's before it runs.
	r := w.submit(alpha, alpha, engine.Request{Service: "7.1", Category: "future_dated", ExecuteAt: w.g.Now().Add(time.Hour)})
	if r.State != gateway.StatePending {
		t.Fatalf("future dated 7.1: %s %s %s", r.State, r.Reason, r.Message)
	}
	forged, err := precommand.Sign(r.PreCommand, w.keys[beta])
	if err != nil {
		t.Fatal(err)
	}
	r.Signed = forged
	if _, err := w.g.Store().UpdateRequest(ctx, r, gateway.StatePending, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Advance(ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	expect(t, w.get(r.ID), gateway.StateRejected, "DEVICE_REJECTED", "the signature does not verify")

	// Each refusal raised A4 (Source Does not have Permission for
	// Command), delivered to the registered supplier, whose credential the
	// meter holds.
	ds, err := w.g.Store().Deliveries(ctx, alpha, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, d := range ds {
		if d.Kind == "alert" && d.Code == "A4" && strings.Contains(string(d.Payload), `"credential_holder":"`+alpha+`"`) {
			alerts++
		}
	}
	if alerts != 2 {
		t.Fatalf("%d A4 alerts to %s, want 2: %v", alerts, alpha, ds)
	}

	// The meter's security log has each refusal.
	st, _ := w.g.Fleet().Get(esme)
	n := 0
	for _, l := range st.SecurityLog {
		if l.Code == "COMMAND_REFUSED" && strings.HasPrefix(l.Detail, "A4: ") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d A4 refusals in the meter's security log, want 2: %v", n, st.SecurityLog)
	}
}

// TestLocalCommandNames: a Command for Local Delivery (para 193) reaches
// the user as JSON in the API's own style (snake_case names), with the
// Command as the device authenticates it.
func TestLocalCommandNames(t *testing.T) {
	w := newWorld(t)
	r := w.submit(alpha, alpha, engine.Request{Service: "4.1", Delivery: "local", Body: map[string]any{"register": "total"}})
	expect(t, r, gateway.StateAccepted, "", "")
	var got struct {
		LocalCommand struct {
			Command map[string]any `json:"command"`
		} `json:"local_command"`
	}
	if err := json.Unmarshal(r.Response, &got); err != nil {
		t.Fatalf("%s: %v", r.Response, err)
	}
	cmd := got.LocalCommand.Command
	for _, k := range []string{"request_id", "service", "device", "sender", "sender_role", "critical", "body", "authenticated"} {
		if _, ok := cmd[k]; !ok {
			t.Errorf("the local command has no %q: %s", k, r.Response)
		}
	}
	if cmd["request_id"] != r.ID || cmd["device"] != esme || cmd["sender_role"] != "EIS" {
		t.Fatalf("local command %s", r.Response)
	}
}
