package devices

import (
	"fmt"
	"maps"
	"slices"
	"strings"
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

// TestBillingCalendar: the billing data log is written on the billing day
// at the calendar's time (UTC), midnight where 6.8 gives none; Table 5.4
// lets only the ESME alert it (A13), the GSME just logs. The daily read log
// stays at midnight, and a meter through which nothing flows (a credit
// meter with its supply off, whose registers jump from midnight to
// midnight) still bills at the calendar's time.
func TestBillingCalendar(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		note  string
		day   int64
		clock any           // billing_time; nil: left out of the 6.8
		idle  bool          // the ESME a credit meter with its supply off
		want  time.Duration // the billing instant, after midnight of the day
	}{
		{"midnight where 6.8 gives no time", 7, nil, false, 0},
		{"midnight where 6.8's time is empty", 7, "", false, 0},
		{"midnight given", 7, "00:00:00", false, 0},
		{"noon (ECS30)", 7, "12:00:00", false, 12 * time.Hour},
		{"inside a half-hour slot", 7, "12:15:30", false, 12*time.Hour + 15*time.Minute + 30*time.Second},
		{"later on the day of the request", 5, "12:00:00", false, 12 * time.Hour},
		{"just before the next midnight", 7, "23:59:59", false, 24*time.Hour - time.Second},
		{"noon, nothing flowing", 7, "12:00:00", true, 12 * time.Hour},
		{"midnight, nothing flowing", 7, nil, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			e := newEnv(t)
			if tc.idle {
				e.mustRun("1.6", esme, map[string]any{"mode": PaymentCredit})
				e.mustRun("7.2", esme, nil)
			}
			for _, dev := range []string{esme, gsme} {
				body := map[string]any{"billing_day": tc.day, "billing_time": tc.clock}
				if tc.clock == nil {
					body = map[string]any{"billing_day": tc.day}
				}
				e.mustRunWithout("6.8", dev, body, "billing_time")
			}
			e.rec.take("")
			at := day(int(tc.day)).Add(tc.want)
			e.clk.Set(at.Add(-time.Second))
			if got := e.rec.take(""); len(got) != 0 {
				t.Fatalf("alerts %v a second before the billing time", got)
			}
			for _, dev := range []string{esme, gsme} {
				if r := e.mustRun("4.4", dev, map[string]any{"entry": int64(0)}); r["found"] != false {
					t.Fatalf("%s billing log before the billing time: %v", dev, r)
				}
			}
			e.clk.Set(day(int(tc.day) + 1).Add(time.Hour)) // past the billing time and the next midnight
			alerts := e.rec.all()
			if len(alerts) != 1 || alerts[0].Code != alertBillingLog || alerts[0].Device != esme || !alerts[0].At.Equal(at) {
				t.Fatalf("alerts %v, want one A13 from the ESME at %v", alerts, at)
			}
			for _, dev := range []string{esme, gsme} {
				st := e.state(dev).Meter
				if len(st.BillingLog) != 1 || !st.BillingLog[0].At.Equal(at) {
					t.Fatalf("%s billing log %+v, want one entry at %v", dev, st.BillingLog, at)
				}
				if r := e.mustRun("4.4", dev, map[string]any{"entry": int64(0)}); r["at"] != at.Format(time.RFC3339) {
					t.Fatalf("%s 4.4: %v, want the entry at %v", dev, r, at)
				}
				for _, r := range st.DailyLog {
					if !r.At.Equal(r.At.Truncate(24 * time.Hour)) {
						t.Fatalf("%s daily read at %v, not at midnight", dev, r.At)
					}
				}
				if n := len(st.DailyLog); n == 0 || !st.DailyLog[n-1].At.Equal(day(int(tc.day)+1)) {
					t.Fatalf("%s daily log %+v, want the last at midnight of %v", dev, st.DailyLog, day(int(tc.day)+1))
				}
			}
		})
	}
}

// TestBillingConsumption: a billing entry's consumption is the import
// since the previous billing entry, a month apart at the calendar's time.
func TestBillingConsumption(t *testing.T) {
	e := newEnv(t)
	e.mustRun("6.8", esme, map[string]any{"billing_day": int64(6), "billing_time": "12:00:00"})
	e.clk.Set(time.Date(2026, 2, 7, 0, 0, 0, 0, time.UTC))
	bl := e.state(esme).Meter.BillingLog
	if len(bl) != 2 {
		t.Fatalf("%d billing entries, want 2", len(bl))
	}
	first, second := time.Date(2026, 1, 6, 12, 0, 0, 0, time.UTC), time.Date(2026, 2, 6, 12, 0, 0, 0, time.UTC)
	if !bl[0].At.Equal(first) || !bl[1].At.Equal(second) {
		t.Fatalf("billing entries at %v and %v, want %v and %v", bl[0].At, bl[1].At, first, second)
	}
	if d := bl[1].ConsumptionKWh - (bl[1].ImportKWh - bl[0].ImportKWh); d > 1e-9 || d < -1e-9 || bl[1].ConsumptionKWh <= 0 {
		t.Fatalf("consumption %v kWh, registers %v then %v", bl[1].ConsumptionKWh, bl[0].ImportKWh, bl[1].ImportKWh)
	}
	if c := e.mustRun("6.2", esme, nil); c["billing_day"] != int64(6) || c["billing_time"] != "12:00:00" {
		t.Fatalf("configuration read back: billing day %v at %v", c["billing_day"], c["billing_time"])
	}
}

// TestBillingTimeRefused: a billing time that is no time of day HH:MM:SS
// is a DEVICE_ERROR, and the calendar is left as it was.
func TestBillingTimeRefused(t *testing.T) {
	for _, clock := range []string{"24:00:00", "12:60:00", "12:00", "1:02:03", "12:00:00.5", "12:00:00Z", "noon"} {
		t.Run(clock, func(t *testing.T) {
			e := newEnv(t)
			e.mustRun("6.8", esme, map[string]any{"billing_day": int64(3), "billing_time": "06:30:00"})
			r := e.run("6.8", esme, map[string]any{"billing_day": int64(7), "billing_time": clock})
			if r.OK || r.Reason != ReasonError || !strings.Contains(r.Detail, "billing_time") {
				t.Fatalf("billing_time %q: %+v, want a DEVICE_ERROR naming it", clock, r)
			}
			if m := e.state(esme).Meter; m.BillingDay != 3 || m.BillingTime != 6*time.Hour+30*time.Minute {
				t.Fatalf("calendar day %d at %v after a refused 6.8", m.BillingDay, m.BillingTime)
			}
		})
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

// mustRunWithout runs key as mustRun does, with the fields omit left out
// of the body (not sent at the spec's example).
func (e *env) mustRunWithout(key, device string, body map[string]any, omit ...string) map[string]any {
	e.t.Helper()
	ref, variant, _ := cut(key)
	svc := e.f.Spec().Service(ref, variant)
	cmd, signer := e.unsealed(svc, device)
	maps.Copy(cmd.Body, body)
	for _, f := range omit {
		if _, given := body[f]; !given {
			delete(cmd.Body, f)
		}
	}
	r := e.f.Execute(seal(cmd, signer))
	if !r.OK {
		e.t.Fatalf("%s on %s: %s %s", key, device, r.Reason, r.Detail)
	}
	return r.Data
}

// all returns the alerts raised since the last call, and forgets them.
func (r *recorder) all() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.alerts
	r.alerts = nil
	return out
}
