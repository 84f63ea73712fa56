package devices

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
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
	t   *testing.T
	clk *clock.Virtual
	f   *Fleet
	rec *recorder
}

// newEnv builds a premises of every device type, electricity devices
// trusting EIS and ENO, gas devices GIS and GNO, meters in prepayment with
// credit for weeks.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvSpec(t, spec.MustDefault())
}

func newEnvSpec(t *testing.T, sp *spec.Spec) *env {
	t.Helper()
	clk := clock.NewVirtual(start)
	f := NewFleet(clk, sp)
	f.SetDefaultCredential(CredCoSParty, cosParty)
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
// it whose user holds the credential the device checks, and signed by that
// user when the service is critical.
func (e *env) command(svc *spec.Service, device string) Command {
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
		RequestID:  users[role] + ":" + device + ":1",
		Service:    svc.Key(),
		Device:     device,
		Sender:     users[role],
		SenderRole: role,
		Critical:   svc.Critical,
		Body:       exampleBody(svc),
	}
	if svc.Critical {
		cmd.Signer = users[role]
	}
	return cmd
}

func (e *env) run(key, device string, body map[string]any) Response {
	e.t.Helper()
	ref, variant, _ := cut(key)
	svc := e.f.Spec().Service(ref, variant)
	if svc == nil {
		e.t.Fatalf("no service %s", key)
	}
	cmd := e.command(svc, device)
	for k, v := range body {
		cmd.Body[k] = v
	}
	return e.f.Execute(cmd)
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
