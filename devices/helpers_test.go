package devices

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/spec"
)

var start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// A premises with one device of every type. chf2 is the CHF the spec's 8.12
// example restores from; the 8.7 example's other_device (D0-01) is left out,
// so that it is another device for every target.
const (
	chf1   = "00-DB-00-00-00-00-C0-01"
	chf2   = "00-DB-00-00-00-00-C0-02"
	esme   = "00-DB-00-00-00-00-E0-01"
	gsme   = "00-DB-00-00-00-00-60-01"
	gpf    = "00-DB-00-00-00-00-F0-01"
	ppmid  = "00-DB-00-00-00-00-D0-02"
	hcalcs = "00-DB-00-00-00-00-A0-01"
	ihd    = "00-DB-00-00-00-00-1D-01"
)

// Users, one per role, and the CoS Party.
var users = map[string]string{
	"EIS": "00-00-00-00-00-00-0A-01",
	"EES": "00-00-00-00-00-00-0A-02",
	"GIS": "00-00-00-00-00-00-0A-03",
	"SNA": "00-00-00-00-00-00-0A-04",
	"ENO": "00-00-00-00-00-00-0B-01",
	"GNO": "00-00-00-00-00-00-0B-02",
	"OU":  "00-00-00-00-00-00-0C-01",
}

// initialCredit lasts the test meters weeks.
const initialCredit = 50000

const cosParty = "00-00-00-00-00-00-0D-01"

// gainingSupplier takes over the ESME's supplier credential in the Change
// of Supplier tests.
const gainingSupplier = "00-00-00-00-00-00-0A-09"

// testMaster is the DCC's MAC master key in the tests.
var testMaster = []byte("dccgate devices test master key!")

// registered are the signing keys of every user, the gaining supplier and
// the CoS Party: the parties whose certificates the DCC holds, which the
// fleet's KeyResolver knows.
var registered = func() map[string]*ecdsa.PrivateKey {
	keys := map[string]*ecdsa.PrivateKey{}
	for _, id := range append(slices.Collect(maps.Values(users)), cosParty, gainingSupplier) {
		keys[id] = newKey()
	}
	return keys
}()

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// resolve is the fleet's KeyResolver in the tests.
func resolve(id string) (*ecdsa.PublicKey, error) {
	k, ok := registered[id]
	if !ok {
		return nil, ErrNoKey
	}
	return &k.PublicKey, nil
}

var requestCounter atomic.Int64

// preCommand is the Pre-Command the DCC makes of cmd (a request ID is
// made up when cmd has none).
func preCommand(cmd *Command) ([]byte, error) {
	ref, variant, _ := cut(cmd.Service)
	svc := spec.MustDefault().Service(ref, variant)
	if svc == nil {
		return nil, fmt.Errorf("no service %q", cmd.Service)
	}
	if cmd.RequestID == "" {
		cmd.RequestID = fmt.Sprintf("%s:%s:%d", cmd.Sender, cmd.Device, requestCounter.Add(1))
	}
	return precommand.Encode(svc, precommand.Command{RequestID: cmd.RequestID, Service: svc.Key(), DeviceID: cmd.Device, UserID: cmd.Sender, Body: cmd.Body})
}

// seal makes cmd the Command the DCC sends: its Pre-Command, signed with
// signer's key when signer is a registered party, then the DCC's MAC under
// the device's key. A command with no Pre-Command (its body does not
// encode) is left unsealed, as the gateway could not send it.
func seal(cmd Command, signer string) Command {
	pc, err := preCommand(&cmd)
	if err != nil {
		return cmd
	}
	if k := registered[signer]; k != nil {
		if pc, err = precommand.Sign(pc, k); err != nil {
			panic(err)
		}
	}
	return macked(cmd, pc, cmd.Device)
}

// macked sets cmd.Authenticated to msg with the MAC under the key of
// device keyDevice.
func macked(cmd Command, msg []byte, keyDevice string) Command {
	dk, err := precommand.DeviceKey(testMaster, keyDevice)
	if err != nil {
		panic(err)
	}
	if cmd.Authenticated, err = precommand.AddMAC(msg, dk); err != nil {
		panic(err)
	}
	return cmd
}

// byType says which device of the premises has each type.
var byType = map[string]string{
	TypeCHF: chf1, TypeESME: esme, TypeGSME: gsme, TypeGPF: gpf,
	TypePPMID: ppmid, TypeHCALCS: hcalcs, TypeIHD: ihd,
}

type recorder struct {
	mu     sync.Mutex
	alerts []Alert
	wan    []string
	// bad lists alerts whose data the gateway could not pass on as JSON.
	bad []string
}

func (r *recorder) add(a Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
	if msg := jsonFriendly(a.Data); msg != "" || a.Data["name"] == nil {
		r.bad = append(r.bad, a.Code+": "+msg)
	}
}

// take returns the codes raised (about device, or any if "") since the
// last call, and forgets every alert.
func (r *recorder) take(device string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.alerts {
		if device == "" || a.Device == device {
			out = append(out, a.Code)
		}
	}
	r.alerts = nil
	return out
}

type env struct {
	t   testing.TB
	clk *clock.Virtual
	f   *Fleet
	rec *recorder
}

// newEnv builds a premises of every device type, electricity devices
// trusting EIS and ENO, gas devices GIS and GNO, meters in prepayment with
// credit for weeks.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvSpec(t, spec.MustDefault())
}

func newEnvSpec(t testing.TB, sp *spec.Spec) *env {
	t.Helper()
	clk := clock.NewVirtual(start)
	f := NewFleet(clk, sp)
	f.SetDefaultCredential(CredCoSParty, cosParty)
	f.SetKeyResolver(resolve)
	if err := f.SetMACKey(testMaster); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	f.OnAlert(rec.add)
	t.Cleanup(func() {
		if len(rec.bad) > 0 {
			t.Errorf("alerts with bad data: %v", rec.bad)
		}
	})
	f.OnWANConnected(func(chf string) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.wan = append(rec.wan, chf)
	})
	elec := map[string]string{CredSupplier: users["EIS"], CredNetworkOperator: users["ENO"]}
	gas := map[string]string{CredSupplier: users["GIS"], CredNetworkOperator: users["GNO"]}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Add(chf1, TypeCHF, DeviceOptions{Credentials: elec, WANConnected: true, Commissioned: true}))
	must(f.Add(chf2, TypeCHF, DeviceOptions{Credentials: elec, WANConnected: true}))
	must(f.Add(esme, TypeESME, DeviceOptions{MPxN: "1900000000011", CHF: chf1, Credentials: elec, PaymentMode: PaymentPrepayment, CreditPence: initialCredit}))
	must(f.Add(gsme, TypeGSME, DeviceOptions{MPxN: "1234567", CHF: chf1, Credentials: gas, PaymentMode: PaymentPrepayment, CreditPence: initialCredit}))
	must(f.Add(gpf, TypeGPF, DeviceOptions{CHF: chf1, Meter: gsme, Credentials: gas}))
	must(f.Add(ppmid, TypePPMID, DeviceOptions{CHF: chf1, Meter: esme, Credentials: elec}))
	must(f.Add(hcalcs, TypeHCALCS, DeviceOptions{CHF: chf1, Meter: esme, Credentials: elec}))
	must(f.Add(ihd, TypeIHD, DeviceOptions{CHF: chf1, Meter: esme}))
	return &env{t: t, clk: clk, f: f, rec: rec}
}

// body is a service's request built from the spec's field examples.
func exampleBody(svc *spec.Service) map[string]any {
	b := map[string]any{}
	for _, fd := range svc.Fields {
		b[fd.Name] = fd.Example
	}
	return b
}

// command builds a command for svc to device, sent by a role eligible for
// it whose user holds the credential the device checks, signed by that
// user when the service is critical, and sealed with the DCC's MAC.
func (e *env) command(svc *spec.Service, device string) Command {
	e.t.Helper()
	cmd, signer := e.unsealed(svc, device)
	return seal(cmd, signer)
}

// unsealed is command before it is sealed, and who is to sign it.
func (e *env) unsealed(svc *spec.Service, device string) (Command, string) {
	e.t.Helper()
	st, ok := e.f.Get(device)
	if !ok {
		e.t.Fatalf("no device %s", device)
	}
	sp := e.f.Spec()
	role := svc.Roles[0]
	for _, r := range svc.Roles {
		kind := sp.Role(r).Kind
		if st.Credentials[kind] == users[r] {
			role = r
			break
		}
	}
	cmd := Command{
		RequestID:  fmt.Sprintf("%s:%s:%d", users[role], device, requestCounter.Add(1)),
		Service:    svc.Key(),
		Device:     device,
		Sender:     users[role],
		SenderRole: role,
		Critical:   svc.Critical,
		Body:       exampleBody(svc),
	}
	signer := ""
	if svc.Critical {
		signer = users[role]
	}
	return cmd, signer
}

func (e *env) run(key, device string, body map[string]any) Response {
	e.t.Helper()
	ref, variant, _ := cut(key)
	svc := e.f.Spec().Service(ref, variant)
	if svc == nil {
		e.t.Fatalf("no service %s", key)
	}
	cmd, signer := e.unsealed(svc, device)
	for k, v := range body {
		cmd.Body[k] = v
	}
	return e.f.Execute(seal(cmd, signer))
}

func (e *env) mustRun(key, device string, body map[string]any) map[string]any {
	e.t.Helper()
	r := e.run(key, device, body)
	if !r.OK {
		e.t.Fatalf("%s on %s: %s %s", key, device, r.Reason, r.Detail)
	}
	return r.Data
}

func (e *env) state(id string) DeviceState {
	e.t.Helper()
	s, ok := e.f.Get(id)
	if !ok {
		e.t.Fatalf("no device %s", id)
	}
	return s
}

func (e *env) expectAlerts(want ...string) {
	e.t.Helper()
	got := e.rec.take("")
	if !slices.Equal(got, want) {
		e.t.Fatalf("alerts %v, want %v", got, want)
	}
}

// expectAlertsFrom checks the alerts about one device, forgetting all.
func (e *env) expectAlertsFrom(device string, want ...string) {
	e.t.Helper()
	got := e.rec.take(device)
	if !slices.Equal(got, want) {
		e.t.Fatalf("alerts about %s %v, want %v", device, got, want)
	}
}

func cut(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}
