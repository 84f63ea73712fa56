package devices

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestPowerLossAndRestore: the CSP raises A21 for the hub; on restore the
// hub raises A24, and A25 too when the outage lasted 3 minutes or more of
// clock time.
func TestPowerLossAndRestore(t *testing.T) {
	cases := []struct {
		outage time.Duration
		want   []string
	}{
		{0, []string{alertRestored}},
		{2*time.Minute + 59*time.Second, []string{alertRestored}},
		{3 * time.Minute, []string{alertRestored, alertLongOutage}},
		{time.Hour, []string{alertRestored, alertLongOutage}},
	}
	for _, tc := range cases {
		t.Run(tc.outage.String(), func(t *testing.T) {
			e := newEnv(t)
			w := NewSMWAN(e.f, e.clk)
			if err := e.f.Event(esme, EventPowerLoss); err != nil {
				t.Fatal(err)
			}
			e.expectAlerts(alertPowerLoss)
			if !e.state(gsme).Powered || e.state(esme).Powered || e.state(chf1).Powered {
				t.Fatal("the cut should take the hub and the ESME, not the battery GSME")
			}
			if _, err := w.Send(context.Background(), Command{Service: "4.1", Device: gsme}); !errors.Is(err, ErrHubDead) {
				t.Fatalf("send during the cut: %v", err)
			}
			if err := e.f.Event(esme, EventPowerLoss); !errors.Is(err, ErrEventNotApplicable) {
				t.Fatalf("second power_loss: %v", err)
			}
			e.clk.Advance(tc.outage)
			if err := e.f.Event(chf1, EventPowerRestored); err != nil {
				t.Fatal(err)
			}
			got := e.rec.take("")
			if !slices.Equal(got, tc.want) {
				t.Fatalf("alerts %v, want %v", got, tc.want)
			}
			if !e.state(esme).Powered {
				t.Fatal("ESME still without power")
			}
		})
	}
}

func TestAlertCarriesSpecData(t *testing.T) {
	e := newEnv(t)
	var got Alert
	e.f.OnAlert(func(a Alert) { got = a })
	if err := e.f.Event(chf1, EventPowerLoss); err != nil {
		t.Fatal(err)
	}
	if got.Device != chf1 || got.Code != alertPowerLoss || !got.At.Equal(start) {
		t.Fatalf("alert %+v", got)
	}
	if got.Data["name"] != "Power Loss" || got.Data["alert_service"] != "A2" || got.Data["issued_by"] != "CSP" {
		t.Fatalf("alert data %v", got.Data)
	}
}

func TestEvents(t *testing.T) {
	cases := []struct {
		device, kind string
		err          error
		alerts       []string
	}{
		{esme, EventTamper, nil, []string{alertTamper}},
		{gsme, EventLowBattery, nil, []string{alertLowBattery}},
		{esme, EventLowBattery, ErrEventNotApplicable, nil},
		{esme, EventVoltageHigh, nil, []string{alertOverVoltage}},
		{esme, EventVoltageLow, nil, []string{alertUnderVoltage}},
		{gsme, EventVoltageHigh, ErrEventNotApplicable, nil},
		{chf1, EventCreditDrop, ErrEventNotApplicable, nil},
		{esme, EventButtonPress, ErrEventNotApplicable, nil},
		{esme, EventWANConnected, ErrEventNotApplicable, nil},
		{esme, "earthquake", ErrUnknownEvent, nil},
		{"00-DB-00-00-00-00-99-99", EventTamper, ErrUnknownDevice, nil},
	}
	for _, tc := range cases {
		t.Run(tc.device+"/"+tc.kind, func(t *testing.T) {
			e := newEnv(t)
			err := e.f.Event(tc.device, tc.kind)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			e.expectAlerts(tc.alerts...)
		})
	}
	if len(EventKinds()) != 10 {
		t.Fatalf("event kinds %v", EventKinds())
	}
}

func TestWANConnected(t *testing.T) {
	e := newEnv(t)
	chf3 := "00-DB-00-00-00-00-C0-03"
	if err := e.f.Add(chf3, TypeCHF, DeviceOptions{}); err != nil {
		t.Fatal(err)
	}
	w := NewSMWAN(e.f, e.clk)
	if _, err := w.Send(context.Background(), Command{Service: "8.9", Device: chf3}); !errors.Is(err, ErrHubDead) {
		t.Fatalf("send to a hub not on the SMWAN: %v", err)
	}
	if err := e.f.Event(chf3, EventWANConnected); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.rec.wan, []string{chf3}) {
		t.Fatalf("WAN callbacks %v", e.rec.wan)
	}
	r, err := w.Send(context.Background(), seal(Command{Service: "8.9", Device: chf3, SenderRole: "EIS", Sender: users["EIS"]}, ""))
	if err != nil || !r.OK {
		t.Fatalf("send after joining: %+v %v", r, err)
	}
}

func TestAddValidates(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		id, typ string
		opts    DeviceOptions
	}{
		{"", TypeESME, DeviceOptions{}},
		{"not-an-eui", TypeESME, DeviceOptions{}},
		{esme, TypeESME, DeviceOptions{}}, // duplicate
		{"00-DB-00-00-00-00-E0-09", "TOASTER", DeviceOptions{}},
		{"00-DB-00-00-00-00-E0-09", TypeESME, DeviceOptions{PaymentMode: "barter"}},
		{"00-DB-00-00-00-00-E0-09", TypeESME, DeviceOptions{Supply: "maybe"}},
		{"00-DB-00-00-00-00-E0-09", TypeESME, DeviceOptions{RateWatts: -1}},
	}
	for _, tc := range cases {
		if err := e.f.Add(tc.id, tc.typ, tc.opts); err == nil {
			t.Errorf("Add(%q, %q, %+v) succeeded", tc.id, tc.typ, tc.opts)
		}
	}
	e.f.Remove(ihd)
	if _, ok := e.f.Get(ihd); ok {
		t.Fatal("removed device still there")
	}
}

// TestDeviceLogCarriesCommands: a meter on no hub is reached through the
// hub whose Device Log it joins (8.11 add, para 184), and no longer once it
// is removed from it.
func TestDeviceLogCarriesCommands(t *testing.T) {
	e := newEnv(t)
	meter := "00-DB-00-00-00-00-E0-09"
	if err := e.f.Add(meter, TypeESME, DeviceOptions{MPxN: "1900000000099", Credentials: map[string]string{CredSupplier: users["EIS"], CredNetworkOperator: users["ENO"]}}); err != nil {
		t.Fatal(err)
	}
	w := NewSMWAN(e.f, e.clk)
	read := func() error {
		t.Helper()
		r, err := w.Send(context.Background(), seal(Command{Service: "4.1", Device: meter, SenderRole: "EIS", Sender: users["EIS"], Body: map[string]any{"register": "total"}}, ""))
		if err == nil && !r.OK {
			t.Fatalf("read: %+v", r)
		}
		return err
	}
	log := func(field string) {
		t.Helper()
		r, err := w.Send(context.Background(), seal(Command{Service: "8.11", Device: chf1, SenderRole: "EIS", Sender: users["EIS"], Body: map[string]any{field: []any{meter}}}, ""))
		if err != nil || !r.OK {
			t.Fatalf("8.11 %s: %+v %v", field, r, err)
		}
	}
	if err := read(); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("read of a meter on no hub: %v, want no route", err)
	}
	log("add")
	if err := read(); err != nil {
		t.Fatalf("read once on the hub's Device Log: %v", err)
	}
	log("remove")
	if err := read(); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("read once off the Device Log: %v, want no route", err)
	}
}
