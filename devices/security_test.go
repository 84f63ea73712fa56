package devices

import (
	"slices"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// TestCriticalCommandSigner: para 140-141. A critical command is carried out
// only if signed by the holder of the credential the sender's role goes
// with; otherwise DEVICE_REJECTED, a security log entry, and A4 where Table
// 5.4 lets the device type raise it.
func TestCriticalCommandSigner(t *testing.T) {
	cases := []struct {
		name    string
		service string
		device  string
		role    string
		signer  string
		ok      bool
		alerts  []string
	}{
		{"supplier signs", "7.1", esme, "EIS", users["EIS"], true, []string{alertSupplyEnabled}},
		{"wrong user signs", "7.1", esme, "EIS", users["GIS"], false, []string{alertNoPermission}},
		{"unsigned", "7.2", gsme, "GIS", "", false, []string{alertNoPermission}},
		{"network operator's key for a supplier command", "7.2", esme, "EIS", users["ENO"], false, []string{alertNoPermission}},
		{"network operator signs its own", "6.15", esme, "ENO", users["ENO"], true, nil},
		{"role without a credential", "7.2", esme, "OU", users["OU"], false, []string{alertNoPermission}},
		// Table 5.4 lists only meters as issuers of A4: a hub refuses and
		// logs, but raises nothing.
		{"hub refuses silently", "11.3", chf1, "EIS", users["GIS"], false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.service == "7.1" {
				e.mustRun("7.2", esme, nil)
			}
			e.rec.take("")
			ref, variant, _ := cut(tc.service)
			svc := e.f.Spec().Service(ref, variant)
			cmd := Command{
				Service: tc.service, Device: tc.device, Sender: users[tc.role], SenderRole: tc.role,
				Critical: true, Body: exampleBody(svc),
			}
			if tc.service == "6.15" {
				cmd.Body["credential"] = CredNetworkOperator
			}
			r := e.f.Execute(seal(cmd, tc.signer))
			if r.OK != tc.ok {
				t.Fatalf("got %+v, want OK=%t", r, tc.ok)
			}
			if !tc.ok {
				if r.Reason != ReasonRejected {
					t.Fatalf("reason %s, want %s", r.Reason, ReasonRejected)
				}
				log := e.state(tc.device).SecurityLog
				if !slices.ContainsFunc(log, func(l LogEntry) bool { return l.Code == "COMMAND_REFUSED" }) {
					t.Fatalf("refusal not in the security log: %v", log)
				}
			}
			e.expectAlerts(tc.alerts...)
		})
	}
}

func TestUpdateSecurityCredentials(t *testing.T) {
	e := newEnv(t)
	// A supplier may not make itself the network operator.
	r := e.run("6.15", esme, map[string]any{"credential": CredNetworkOperator})
	if r.OK || r.Reason != ReasonRejected {
		t.Fatalf("supplier replacing the network operator's credential: %+v", r)
	}
	e.expectAlerts(alertNoPermission)
	e.mustRun("6.15", esme, map[string]any{"credential": CredSupplier, "certificate": "NEWCERT"})
	st := e.state(esme)
	if st.Credentials[CredSupplier] != users["EIS"] || st.Certificates[CredSupplier] != "NEWCERT" {
		t.Fatalf("credentials %v, certificates %v", st.Credentials, st.Certificates)
	}
	e.expectAlerts() // the gateway alerts, not the device
}

// TestChangeOfSupplier: 6.23 comes from the gaining supplier and is signed
// by the CoS Party (para 146), or by the losing supplier; the gaining
// supplier's own signature is not enough (para 141).
func TestChangeOfSupplier(t *testing.T) {
	gaining := gainingSupplier
	cases := []struct {
		signer string
		ok     bool
	}{
		{cosParty, true},
		{users["EIS"], true},
		{gaining, false},
	}
	for _, tc := range cases {
		e := newEnv(t)
		r := e.f.Execute(seal(Command{
			Service: "6.23", Device: esme, Sender: gaining, SenderRole: "EIS", Critical: true,
			Body: map[string]any{"certificate": "GAINING"},
		}, tc.signer))
		if r.OK != tc.ok {
			t.Fatalf("signed by %s: %+v", tc.signer, r)
		}
		holder := e.state(esme).Credentials[CredSupplier]
		if want := map[bool]string{true: gaining, false: users["EIS"]}[tc.ok]; holder != want {
			t.Fatalf("signed by %s: supplier credential held by %s, want %s", tc.signer, holder, want)
		}
	}
}

func TestServiceOptOut(t *testing.T) {
	e := newEnv(t)
	if err := e.f.SetCredential(esme, CredAccessControlBroker, "00-00-00-00-00-00-DC-C0"); err != nil {
		t.Fatal(err)
	}
	e.mustRun("8.5", esme, nil)
	st := e.state(esme)
	if !st.Withdrawn || st.Credentials[CredAccessControlBroker] != "" || st.Credentials[CredCoSParty] != "" {
		t.Fatalf("after opt out: withdrawn=%t credentials %v", st.Withdrawn, st.Credentials)
	}
	if st.Credentials[CredSupplier] != users["EIS"] {
		t.Fatalf("supplier credential %q", st.Credentials[CredSupplier])
	}
	if err := e.f.SetCredential("00-DB-00-00-00-00-99-99", CredSupplier, "x"); err == nil {
		t.Fatal("SetCredential on an unknown device succeeded")
	}
	// Credential reads what Get's copy says, without the copy.
	for _, kind := range []string{CredSupplier, CredAccessControlBroker} {
		if got, ok := e.f.Credential(esme, kind); !ok || got != st.Credentials[kind] {
			t.Errorf("Credential(%s) = %q %v, want %q", kind, got, ok, st.Credentials[kind])
		}
	}
	if _, ok := e.f.Credential("00-DB-00-00-00-00-99-99", CredSupplier); ok {
		t.Error("Credential of an unknown device")
	}
}

// TestIssuersComeFromTheSpec edits Table 5.4 in a copy of the spec: once it
// says a CHF issues A1, a tampered hub raises it.
func TestIssuersComeFromTheSpec(t *testing.T) {
	base := spec.MustDefault()
	e := newEnv(t)
	if err := e.f.Event(chf1, EventTamper); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts()
	if log := e.state(chf1).EventLog; len(log) == 0 || !strings.Contains(log[len(log)-1].Detail, "logged only") {
		t.Fatalf("tamper not logged on the hub: %v", log)
	}

	edited := *base
	edited.Alerts = nil
	for _, a := range base.Alerts {
		c := *a
		if c.Code == alertTamper {
			c.IssuedBy = append(slices.Clone(c.IssuedBy), TypeCHF)
		}
		edited.Alerts = append(edited.Alerts, &c)
	}
	e = newEnvSpec(t, &edited)
	if err := e.f.Event(chf1, EventTamper); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts(alertTamper)
}

func TestEventBehaviour(t *testing.T) {
	e := newEnv(t)
	e.mustRun("6.22", esme, map[string]any{"alert_code": alertTamper, "action": "ignore"})
	if err := e.f.Event(esme, EventTamper); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts()
	e.mustRun("6.22", esme, map[string]any{"alert_code": alertTamper, "action": "alert"})
	if err := e.f.Event(esme, EventTamper); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts(alertTamper)
}
