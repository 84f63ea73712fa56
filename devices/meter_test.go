package devices

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/spec"
)

func TestRegistersAdvanceWithTheClock(t *testing.T) {
	for _, dev := range []string{esme, gsme} {
		t.Run(dev, func(t *testing.T) {
			e := newEnv(t)
			before := e.mustRun("4.1", dev, map[string]any{"register": "total"})["import_kwh"].(float64)
			e.clk.Advance(2 * time.Hour)
			after := e.mustRun("4.1", dev, map[string]any{"register": "total"})["import_kwh"].(float64)
			if after <= before {
				t.Fatalf("import register %v then %v: did not advance", before, after)
			}
			// The profile holds the same energy, a half-hour at a time.
			p := e.mustRun("4.8", dev, map[string]any{
				"from": start.Format(time.RFC3339), "to": start.Add(2 * time.Hour).Format(time.RFC3339),
			})
			entries := p["entries"].([]any)
			if len(entries) != 4 {
				t.Fatalf("%d profile entries for two hours, want 4", len(entries))
			}
			sum := 0.0
			for _, en := range entries {
				sum += en.(map[string]any)["import_kwh"].(float64)
			}
			if d := sum - (after - before); d > 0.01 || d < -0.01 {
				t.Fatalf("profile sums to %v kWh, registers moved %v", sum, after-before)
			}
			// Nothing is answered from the future.
			p = e.mustRun("4.8", dev, map[string]any{
				"from": start.Format(time.RFC3339), "to": start.Add(48 * time.Hour).Format(time.RFC3339),
			})
			if n := len(p["entries"].([]any)); n != 4 {
				t.Fatalf("%d profile entries up to now, want 4", n)
			}
		})
	}
}

func TestConsumptionIsDeterministic(t *testing.T) {
	read := func() DeviceState {
		e := newEnv(t)
		e.clk.Advance(50 * time.Hour)
		return e.state(esme)
	}
	a, b := read(), read()
	if a.Meter.ImportKWh != b.Meter.ImportKWh || a.Meter.CreditPence != b.Meter.CreditPence {
		t.Fatalf("two runs differ: %v/%v kWh, %v/%v p", a.Meter.ImportKWh, b.Meter.ImportKWh, a.Meter.CreditPence, b.Meter.CreditPence)
	}
	if len(a.Meter.DailyLog) != 2 {
		t.Fatalf("%d daily reads after two midnights, want 2", len(a.Meter.DailyLog))
	}
}

func TestNoConsumptionWithoutSupplyOrPower(t *testing.T) {
	e := newEnv(t)
	e.mustRun("7.2", esme, nil)
	before := e.state(esme).Meter.ImportKWh
	e.clk.Advance(3 * time.Hour)
	if after := e.state(esme).Meter.ImportKWh; after != before {
		t.Fatalf("disabled supply imported %v kWh", after-before)
	}
	e.mustRun("7.1", esme, nil)
	if err := e.f.Event(esme, EventPowerLoss); err != nil {
		t.Fatal(err)
	}
	before = e.state(esme).Meter.ImportKWh
	e.clk.Advance(time.Hour)
	if after := e.state(esme).Meter.ImportKWh; after != before {
		t.Fatalf("meter without power imported %v kWh", after-before)
	}
	if r := e.run("4.1", esme, nil); r.OK {
		t.Fatal("a meter without power answered")
	}
	if err := e.f.Event(esme, EventPowerRestored); err != nil {
		t.Fatal(err)
	}
	p := e.mustRun("4.8", esme, map[string]any{
		"from": start.Add(3 * time.Hour).Format(time.RFC3339), "to": start.Add(4 * time.Hour).Format(time.RFC3339),
	})
	for _, en := range p["entries"].([]any) {
		if kwh := en.(map[string]any)["import_kwh"].(float64); kwh != 0 {
			t.Fatalf("profile shows %v kWh during the power cut", kwh)
		}
	}
}

// TestCreditRunsOut lets a prepayment meter use its credit as the virtual
// clock advances: A10 when it falls below the low credit threshold, A11 and
// the supply disabled below the disablement threshold; a top-up arms the
// supply (A28) and the consumer enables it (A8).
func TestCreditRunsOut(t *testing.T) {
	e := newEnv(t)
	e.mustRun("2.1", esme, map[string]any{"low_credit_threshold_pence": int64(300), "disablement_threshold_pence": int64(0)})
	e.mustRun("1.5", esme, map[string]any{"adjustment_pence": int64(500 - initialCredit)})
	e.rec.take("")
	for i := 0; i < 24*14 && e.state(esme).Meter.Supply == SupplyEnabled; i++ {
		e.clk.Advance(time.Hour)
	}
	e.expectAlertsFrom(esme, alertLowCredit, alertDisabled)
	st := e.state(esme)
	if st.Meter.Supply != SupplyDisabled || st.Meter.CreditPence >= 0 {
		t.Fatalf("supply %s with %vp credit", st.Meter.Supply, st.Meter.CreditPence)
	}
	e.mustRun("2.2", esme, map[string]any{"utrn": "73100000000000000009", "amount_pence": int64(2000)})
	e.expectAlertsFrom(esme, alertCreditAdded, alertArmed)
	if err := e.f.Event(esme, EventButtonPress); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts(alertSupplyEnabled)
}

func TestCreditDropEvent(t *testing.T) {
	e := newEnv(t)
	steps := []struct {
		want   []string
		supply string
	}{
		{[]string{alertLowCredit}, SupplyEnabled},
		{[]string{alertDisabled}, SupplyDisabled},
	}
	for i, s := range steps {
		if err := e.f.Event(esme, EventCreditDrop); err != nil {
			t.Fatal(err)
		}
		e.expectAlerts(s.want...)
		if got := e.state(esme).Meter.Supply; got != s.supply {
			t.Fatalf("step %d: supply %s, want %s", i, got, s.supply)
		}
	}
	// Emergency credit (A9) gives back enough to arm the supply.
	e.mustRun("2.5", esme, nil)
	e.expectAlerts(alertEmergencyCredit, alertArmed)
}

func TestTopUp(t *testing.T) {
	e := newEnv(t)
	before := e.state(gsme).Meter.CreditPence
	d := e.mustRun("2.2", gsme, map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(2000)})
	after := e.state(gsme).Meter.CreditPence
	if after-before != 2000 {
		t.Fatalf("credit %v -> %v, want +2000", before, after)
	}
	if d["credit_pence"].(float64) != after {
		t.Fatalf("response says %v, state %v", d["credit_pence"], after)
	}
	e.expectAlerts(alertCreditAdded)
	// The same UTRN twice is refused.
	r := e.run("2.2", gsme, map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(2000)})
	if r.OK || r.Reason != ReasonRejected {
		t.Fatalf("replayed UTRN: %+v", r)
	}
	if got := e.state(gsme).Meter.CreditPence; got != after {
		t.Fatalf("replayed UTRN changed credit to %v", got)
	}
}

// TestBillingCalendar: the billing data log is written on the billing day;
// Table 5.4 lets only the ESME alert it (A13), the GSME just logs.
func TestBillingCalendar(t *testing.T) {
	e := newEnv(t)
	e.mustRun("6.8", esme, map[string]any{"billing_day": int64(7)})
	e.mustRun("6.8", gsme, map[string]any{"billing_day": int64(7)})
	e.clk.Advance(24 * time.Hour) // to the 6th
	e.expectAlerts()
	e.clk.Advance(24 * time.Hour) // past midnight of the 7th
	got := e.rec.take("")
	if len(got) != 1 || got[0] != alertBillingLog {
		t.Fatalf("alerts %v, want one A13", got)
	}
	for _, dev := range []string{esme, gsme} {
		r := e.mustRun("4.4", dev, map[string]any{"entry": int64(0)})
		if r["found"] != true || r["at"] != "2026-01-07T00:00:00Z" {
			t.Fatalf("%s billing log: %v", dev, r)
		}
	}
}

func TestMaxDemandAndLoadLimit(t *testing.T) {
	e := newEnv(t)
	e.clk.Advance(3 * time.Hour)
	if w := e.mustRun("4.12", esme, nil)["import_watts"].(float64); w <= 0 {
		t.Fatalf("maximum demand %v", w)
	}
	// Without 6.4 the limit is only reported.
	if err := e.f.Event(esme, EventLoadAboveLimit); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts(alertLoadLimit)
	e.mustRun("6.4", esme, map[string]any{"threshold_watts": int64(8000)})
	if err := e.f.Event(esme, EventLoadAboveLimit); err != nil {
		t.Fatal(err)
	}
	e.expectAlerts(alertLoadLimit, alertLoadLimitArmed)
	if s := e.state(esme).Meter.Supply; s != SupplyArmed {
		t.Fatalf("supply %s after the load limit acted", s)
	}
	if n := e.mustRun("4.15", esme, nil)["counter"]; n != int64(2) {
		t.Fatalf("load limit counter %v", n)
	}
}

// TestRestrictData: after 3.2 an Other User sees nothing from before the
// tenancy start; the supplier still does.
func TestRestrictData(t *testing.T) {
	e := newEnv(t)
	e.clk.Advance(48 * time.Hour)
	tenancy := start.Add(24 * time.Hour)
	e.mustRun("3.2", esme, map[string]any{"tenancy_start": tenancy.Format(time.RFC3339)})
	body := map[string]any{"from": start.Format(time.RFC3339), "to": start.Add(48 * time.Hour).Format(time.RFC3339)}
	ou := Command{Service: "4.8", Device: esme, Sender: users["OU"], SenderRole: "OU", Body: body}
	r := e.f.Execute(seal(ou, ""))
	if !r.OK {
		t.Fatal(r.Detail)
	}
	first := r.Data["entries"].([]any)[0].(map[string]any)["start"]
	if first != tenancy.Format(time.RFC3339) {
		t.Fatalf("Other User's profile starts %v, want %v", first, tenancy)
	}
	sup := e.mustRun("4.8", esme, body)
	if n := len(sup["entries"].([]any)); n != 96 {
		t.Fatalf("supplier sees %d entries, want 96", n)
	}
}

func TestLongAdvanceStaysBounded(t *testing.T) {
	clk := clock.NewVirtual(start)
	f := NewFleet(clk, spec.MustDefault())
	if err := f.Add(esme, TypeESME, DeviceOptions{CHF: chf1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * 365 * 24 * time.Hour)
	st, _ := f.Get(esme)
	if len(st.Meter.DailyLog) != maxDailyLog {
		t.Fatalf("daily log has %d entries", len(st.Meter.DailyLog))
	}
	if st.Meter.ImportKWh < 1000 {
		t.Fatalf("two years imported only %v kWh", st.Meter.ImportKWh)
	}
}

// TestTickReachesEveryDevice runs Tick over a fleet of several steps
// (tickStep devices each), with devices added and removed between ticks:
// every device is brought up to the clock's time, none twice or skipped.
func TestTickReachesEveryDevice(t *testing.T) {
	clk := clock.NewVirtual(start)
	f := NewFleet(clk, spec.MustDefault(), WithoutClockHook())
	id := func(i int) string { return fmt.Sprintf("00-00-00-00-00-01-%02X-%02X", i/256, i%256) }
	n := 2*tickStep + 7
	for i := range n {
		if err := f.Add(id(i), TypeESME, DeviceOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, want int) {
		t.Helper()
		now, seen := clk.Now(), 0
		for _, d := range f.devices {
			seen++
			if !d.accruedTo.Equal(now) {
				t.Fatalf("%s: %s accrued to %v, want %v", step, d.ID, d.accruedTo, now)
			}
		}
		if seen != want {
			t.Fatalf("%s: %d devices, want %d", step, seen, want)
		}
	}
	clk.Advance(time.Hour)
	f.Tick()
	check("first tick", n)
	f.Remove(id(3))
	if err := f.Add(id(n), TypeESME, DeviceOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	f.Tick()
	check("after a removal and an addition", n)
	if ids := f.IDs(); len(ids) != n || !slices.IsSorted(ids) || slices.Contains(ids, id(3)) || !slices.Contains(ids, id(n)) {
		t.Fatalf("IDs %d, sorted %v", len(ids), slices.IsSorted(ids))
	}
}
