package devices

import (
	"math"
	"slices"
	"time"
)

// slot is the profile data interval: half an hour.
const slot = 30 * time.Minute

// Log depths of a meter: entry 0 to 30 of the daily logs, a year and a
// month of billing reads.
const (
	maxDailyLog   = 31
	maxBillingLog = 13
	// maxTOUBlocks bounds the time-of-use registers: a block can be no
	// shorter than one profile slot.
	maxTOUBlocks = 48
)

// dayShape is the share of a device's mean import in each hour of the day
// (UTC): low at night, a morning bump, high in the evening. Its mean is about
// one.
var dayShape = [24]float64{
	0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
	1.1, 1.1, 1.1,
	0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
	1.6, 1.6, 1.6, 1.6, 1.6, 1.6,
	0.8, 0.8,
}

// sunShape is the share of a solar installation's peak in each hour.
var sunShape = [24]float64{9: 0.3, 10: 0.6, 11: 0.9, 12: 1, 13: 0.9, 14: 0.6, 15: 0.3}

func newMeter(d *device, fuel, mode, supply string, opts DeviceOptions) *MeterState {
	rate := opts.RateWatts
	if rate == 0 {
		u := unit(mix(d.seed))
		if fuel == "gas" {
			rate = 600 + 1500*u // gas heating, in kW equivalent
		} else {
			rate = 250 + 900*u
		}
	}
	pc := PrepayConfig{LowCreditThresholdPence: 200, EmergencyCreditLimitPence: 500}
	if opts.Prepay != nil {
		pc = *opts.Prepay
	}
	m := &MeterState{
		Fuel:                      fuel,
		ImportKWh:                 opts.ImportKWh,
		TOUKWh:                    []float64{opts.ImportKWh},
		BlockKWh:                  []float64{0},
		RateWatts:                 rate,
		Tariff:                    Tariff{Name: "Standard", StandingChargePence: 25, UnitRateMillipence: 24500, TOUBlocks: 1},
		PaymentMode:               mode,
		CreditPence:               opts.CreditPence,
		LowCreditThresholdPence:   pc.LowCreditThresholdPence,
		EmergencyCreditLimitPence: pc.EmergencyCreditLimitPence,
		DisablementThresholdPence: pc.DisablementThresholdPence,
		DebtPence:                 opts.DebtPence,
		DebtRecoveryPencePerDay:   opts.DebtRecoveryPencePerDay,
		Supply:                    supply,
		MaxDemand:                 MaxDemand{PeriodMinutes: 30},
		Voltage:                   Voltage{OverVolts: 253, UnderVolts: 216, RMSVolts: 230},
	}
	if fuel == "gas" {
		m.Gas = GasConfig{CalorificValue: 39.5, ConversionFactor: 1.02264}
	}
	d.prevDaily, d.prevBilling = opts.ImportKWh, opts.ImportKWh
	d.slotIdx = slotIndex(d.AddedAt)
	d.lowAlerted = mode == PaymentPrepayment && m.CreditPence < float64(m.LowCreditThresholdPence)
	return m
}

// mix is SplitMix64's finaliser: a cheap, well-spread hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func slotIndex(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / slot.Seconds())) }

func slotStart(k int64) time.Time { return time.Unix(k*int64(slot/time.Second), 0).UTC() }

// importWh is the energy the device would import in slot k with supply
// flowing all through it: the mean rate, shaped by the hour, with a
// deterministic jitter of ±25%.
func (d *device) importWh(k int64) float64 {
	h := slotStart(k).Hour()
	return d.Meter.RateWatts * slot.Hours() * dayShape[h] * (0.75 + 0.5*unit(mix(d.seed^uint64(k))))
}

// exportWh is what one meter in four exports from its solar panels.
func (d *device) exportWh(k int64) float64 {
	if d.Meter.Fuel == "gas" || d.seed%4 != 0 {
		return 0
	}
	peak := 500 + 1500*unit(mix(d.seed+1))
	h := slotStart(k).Hour()
	return peak * slot.Hours() * sunShape[h] * unit(mix(d.seed^uint64(k)^0xabcdef))
}

// touBlock is the time-of-use block of slot k: the day split evenly.
func (m *MeterState) touBlock(k int64) int {
	n := len(m.TOUKWh)
	if n <= 1 {
		return 0
	}
	t := slotStart(k)
	of := (t.Hour()*60 + t.Minute()) / int(slot/time.Minute)
	return of * n / int(24*time.Hour/slot)
}

// available is the credit the consumer can still use: the balance plus the
// emergency credit when it is active.
func (m *MeterState) available() float64 {
	a := m.CreditPence
	if m.EmergencyCreditActive {
		a += float64(m.EmergencyCreditLimitPence)
	}
	return a
}

// accrue brings the device's registers, charges and logs up to the
// transaction's time, slot by slot, raising the alerts crossing a threshold,
// a midnight or a billing instant causes at the time it happened.
func (d *device) accrue(t *tx) {
	now := t.now
	if !now.After(d.accruedTo) {
		return
	}
	m := d.Meter
	if m == nil {
		d.accruedTo = now
		return
	}
	cur := d.accruedTo
	billAt, bills := m.nextBilling(cur)
	for cur.Before(now) {
		k := slotIndex(cur)
		end := slotStart(k).Add(slot)
		jump := !d.flowing() && m.PaymentMode != PaymentPrepayment
		if jump {
			// Nothing flows and nothing is charged: jump to the next
			// midnight, where the logs are written.
			end = nextMidnight(cur)
		}
		boundary := true
		if bills && billAt.Before(end) {
			// The billing data is taken at its instant: stop there, inside
			// a slot (which stays open) or before the midnight jumped to
			// (the slot nothing flows in closes there, as at that midnight).
			end, boundary = billAt, jump
		}
		if now.Before(end) {
			end, boundary = now, false
		}
		dt := end.Sub(cur)
		var imp, exp float64
		if d.flowing() {
			frac := float64(dt) / float64(slot)
			imp, exp = d.importWh(k)*frac, d.exportWh(k)*frac
		}
		d.addEnergy(k, imp, exp)
		if m.PaymentMode == PaymentPrepayment {
			d.charge(imp, dt)
			d.checkCredit(t, end)
		}
		cur = end
		if boundary {
			d.closeSlot(end)
			if end.Equal(nextMidnight(end.Add(-time.Nanosecond))) {
				d.midnight(end)
			}
		}
		if bills && end.Equal(billAt) {
			d.bill(t, end)
			billAt, bills = m.nextBilling(end)
		}
	}
	d.accruedTo = now
}

func nextMidnight(t time.Time) time.Time {
	y, mo, day := t.UTC().Date()
	return time.Date(y, mo, day+1, 0, 0, 0, 0, time.UTC)
}

// nextBilling is the first instant after t at which the billing calendar
// takes the billing data: BillingTime on BillingDay of t's month or the
// next. A meter without a calendar has none.
func (m *MeterState) nextBilling(t time.Time) (time.Time, bool) {
	if m.BillingDay <= 0 {
		return time.Time{}, false
	}
	y, mo, _ := t.UTC().Date()
	at := time.Date(y, mo, m.BillingDay, 0, 0, 0, 0, time.UTC).Add(m.BillingTime)
	if !at.After(t) {
		at = time.Date(y, mo+1, m.BillingDay, 0, 0, 0, 0, time.UTC).Add(m.BillingTime)
	}
	return at, true
}

func (d *device) addEnergy(k int64, importWh, exportWh float64) {
	m := d.Meter
	if k != d.slotIdx {
		d.slotIdx, d.slotWh = k, 0
	}
	d.slotWh += importWh
	kwh := importWh / 1000
	m.ImportKWh += kwh
	b := m.touBlock(k)
	m.TOUKWh[b] += kwh
	m.BlockKWh[b] += kwh
	m.ExportKWh += exportWh / 1000
	m.ReactiveExportKVArh += exportWh / 10000
}

// closeSlot ends a profile slot: its average power is a demand figure.
func (d *device) closeSlot(end time.Time) {
	m := d.Meter
	w := d.slotWh / slot.Hours()
	if w > m.MaxDemand.ImportWatts {
		m.MaxDemand.ImportWatts, m.MaxDemand.At = w, end
	}
	d.slotWh = 0
}

// charge takes the cost of importWh, the standing charge and the debt
// recovery for dt from the balance of a prepayment meter.
func (d *device) charge(importWh float64, dt time.Duration) {
	m := d.Meter
	days := dt.Hours() / 24
	cost := importWh / 1000 * float64(m.Tariff.UnitRateMillipence) / 1000
	cost += float64(m.Tariff.StandingChargePence) * days
	rec := math.Min(m.DebtPence, float64(m.DebtRecoveryPencePerDay)*days)
	m.DebtPence -= rec
	m.CreditPence -= cost + rec
}

// checkCredit raises A10 when the balance falls below the low credit
// threshold and, when what is left falls below the disablement threshold,
// disables the supply and raises A11.
func (d *device) checkCredit(t *tx, at time.Time) {
	m := d.Meter
	if m.PaymentMode != PaymentPrepayment {
		return
	}
	if m.CreditPence < float64(m.LowCreditThresholdPence) {
		if !d.lowAlerted {
			d.lowAlerted = true
			t.raise(d, d.Type, alertLowCredit, at, map[string]any{"credit_pence": round2(m.CreditPence)})
		}
	} else {
		d.lowAlerted = false
	}
	if m.Supply == SupplyEnabled && m.available() < float64(m.DisablementThresholdPence) {
		d.setSupply(at, SupplyDisabled)
		d.disabledByCredit = true
		t.raise(d, d.Type, alertDisabled, at, map[string]any{"credit_pence": round2(m.CreditPence), "supply": SupplyDisabled})
	}
}

// repayEmergency ends emergency credit once the balance is back to zero or
// more: the credit added has repaid what was used.
func (m *MeterState) repayEmergency() {
	if m.EmergencyCreditActive && m.CreditPence >= 0 {
		m.EmergencyCreditActive = false
	}
}

// creditAdded re-evaluates a prepayment meter after its credit rose: a
// supply disabled for lack of credit is armed again (A28), as SMETS meters
// do after a top-up, so that the consumer can enable it.
func (d *device) creditAdded(t *tx, at time.Time) {
	m := d.Meter
	if m.CreditPence >= float64(m.LowCreditThresholdPence) {
		d.lowAlerted = false
	}
	if d.disabledByCredit && m.Supply == SupplyDisabled && m.available() >= float64(m.DisablementThresholdPence) {
		d.disabledByCredit = false
		d.setSupply(at, SupplyArmed)
		t.raise(d, d.Type, alertArmed, at, map[string]any{"supply": SupplyArmed})
	}
	d.checkCredit(t, at)
}

// midnight writes the daily read log.
func (d *device) midnight(at time.Time) {
	m := d.Meter
	m.DailyLog = appendCapped(m.DailyLog, d.logRead(at, m.ImportKWh-d.prevDaily), maxDailyLog)
	d.prevDaily = m.ImportKWh
}

// bill writes the billing data log at the billing calendar's instant (on
// its day, at its time) and raises A13. Its consumption is the import
// since the previous billing entry.
func (d *device) bill(t *tx, at time.Time) {
	m := d.Meter
	read := d.logRead(at, m.ImportKWh-d.prevBilling)
	d.prevBilling = m.ImportKWh
	m.BillingLog = appendCapped(m.BillingLog, read, maxBillingLog)
	t.raise(d, d.Type, alertBillingLog, at, map[string]any{"import_kwh": round3(m.ImportKWh)})
}

// logRead is a log entry of the registers now, at at.
func (d *device) logRead(at time.Time, consumptionKWh float64) LogRead {
	m := d.Meter
	return LogRead{
		At: at, ImportKWh: m.ImportKWh, ExportKWh: m.ExportKWh, TOUKWh: slices.Clone(m.TOUKWh),
		ConsumptionKWh: consumptionKWh, CreditPence: m.CreditPence, DebtPence: m.DebtPence,
		EmergencyCreditActive: m.EmergencyCreditActive,
	}
}

// onFraction is the share of [a, b) during which energy flowed through the
// device, from its installation to now.
func (d *device) onFraction(a, b, now time.Time) float64 {
	span := b.Sub(a)
	if a.Before(d.AddedAt) {
		a = d.AddedAt
	}
	if b.After(now) {
		b = now
	}
	if !b.After(a) {
		return 0
	}
	on := b.Sub(a)
	for _, p := range d.off {
		to := p.to
		if to.IsZero() {
			to = now
		}
		lo, hi := maxTime(a, p.from), minTime(b, to)
		if hi.After(lo) {
			on -= hi.Sub(lo)
		}
	}
	if on < 0 {
		on = 0
	}
	return float64(on) / float64(span)
}

// profile returns the half-hourly import of the slots from from to to, at
// most limit of them, and whether there were more.
func (d *device) profile(from, to, now time.Time, limit int, each func(start time.Time, k int64, kwh float64)) (n int, truncated bool) {
	if from.Before(d.AddedAt) {
		from = d.AddedAt
	}
	if to.After(now) {
		to = now
	}
	for k := slotIndex(from); slotStart(k).Before(to); k++ {
		if n == limit {
			return n, true
		}
		s := slotStart(k)
		each(s, k, d.importWh(k)*d.onFraction(s, s.Add(slot), now)/1000)
		n++
	}
	return n, false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// gasVolume converts gas energy to volume with the meter's conversion:
// kWh = m3 x CV x CF / 3.6.
func (m *MeterState) gasVolume(kwh float64) float64 {
	if m.Gas.CalorificValue <= 0 || m.Gas.ConversionFactor <= 0 {
		return 0
	}
	return kwh * 3.6 / (m.Gas.CalorificValue * m.Gas.ConversionFactor)
}
