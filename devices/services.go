package devices

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// handler carries out one Table 5.1 service on a device that has passed the
// type and signature checks, and returns the device's answer.
type handler func(c *call) (map[string]any, error)

// handlers are the Table 5.1 services, by spec key. A row added to the spec
// without a handler here is answered with DEVICE_ERROR (and fails the
// package's tests, which walk the spec).
var handlers = map[string]handler{
	"1.1/prepayment": updateTariff,
	"1.1/credit":     updateTariff,
	"1.2/prepayment": updatePrice,
	"1.2/credit":     updatePrice,
	"1.5":            adjustBalance,
	"1.6":            updatePaymentMode,
	"1.7":            resetBlockCounters,
	"2.1":            updatePrepayConfig,
	"2.2":            topUp,
	"2.3":            updateDebt,
	"2.5":            activateEmergencyCredit,
	"3.1":            displayMessage,
	"3.2":            restrictData,
	"3.3":            clearEventLog,
	"3.4":            updateSupplierName,
	"3.5":            resetPIN,
	"4.1":            readImport,
	"4.2":            readExport,
	"4.3":            readPrepayValues,
	"4.4":            readBillingLog,
	"4.6":            readDailyLog,
	"4.8":            readProfile,
	"4.10":           readNetworkData,
	"4.11":           readTariff,
	"4.12":           readMaxDemand,
	"4.13":           readPrepayConfig,
	"4.14":           readPrepayDailyLog,
	"4.15":           readLoadLimitCounter,
	"4.16":           readActivePower,
	"4.17":           readDailyConsumption,
	"6.2":            readConfig,
	"6.4":            configureLoadLimit,
	"6.5":            configureVoltage,
	"6.6":            configureGasConversion,
	"6.7":            configureGasFlow,
	"6.8":            configureBillingCalendar,
	"6.11":           synchroniseClock,
	"6.12":           configurePowerThresholds,
	"6.13":           readLogs,
	"6.14":           configureAuxCalendar,
	"6.15":           updateCredentials,
	"6.17":           issueCredentials,
	"6.18":           setMaxDemand,
	"6.19":           setLocalTimeChange,
	"6.20":           setMPxN,
	"6.21":           handover,
	"6.22":           configureEventBehaviour,
	"6.23":           changeOfSupplier,
	"6.24":           retrieveCredentials,
	"7.1":            enableSupply,
	"7.2":            disableSupply,
	"7.3":            armSupply,
	"7.4":            readSupply,
	"7.5":            auxActivate,
	"7.6":            auxDeactivate,
	"7.7":            auxRead,
	"7.8":            auxReset,
	"7.9":            boostAdd,
	"7.10":           boostRemove,
	"7.11":           boostRead,
	"7.12":           setRandomisedOffset,
	"8.1":            commission,
	"8.5":            optOut,
	"8.7/type1":      join,
	"8.7/type2":      join,
	"8.8/type1":      unjoin,
	"8.8/type2":      unjoin,
	"8.9":            readDeviceLog,
	"8.11":           updateDeviceLog,
	"8.12":           restoreDeviceLog,
	"9.1":            requestCIN,
	"11.1":           updateFirmware,
	"11.2":           readFirmware,
	"11.3":           activateFirmware,
	"14.1":           recordNetworkData,
}

// Device limits.
const (
	// maxAux is the number of auxiliary load control switches.
	maxAux = 5
	// maxHAN bounds the devices on a HAN: the Device Log and joins.
	maxHAN = 32
	// maxProfileEntries bounds a profile or network data answer: 31 days
	// of half-hours.
	maxProfileEntries = 31 * 48
	// networkRecording and networkInterval are 14.1's "gas consumption data
	// at 6 minute intervals over a four hour period".
	networkRecording = 4 * time.Hour
	networkInterval  = 6 * time.Minute
)

// meter returns the metering state, or an error for a device without one.
func (c *call) meter() (*MeterState, error) {
	if c.d.Meter == nil {
		return nil, devErr("%s has no metrology", c.d.Type)
	}
	return c.d.Meter, nil
}

// nonNegative reads integer fields that must be zero or more.
func (c *call) nonNegative(names ...string) ([]int64, error) {
	out := make([]int64, len(names))
	for i, n := range names {
		v, err := c.int(n)
		if err != nil {
			return nil, err
		}
		if v < 0 {
			return nil, devErr("field %s: must not be negative", n)
		}
		out[i] = v
	}
	return out, nil
}

// restricted reports whether data from before the tenancy start of 3.2 is
// withheld from this sender: Other Users (role kind "other") act for the
// new occupant.
func (c *call) restricted(at time.Time) bool {
	return !c.d.RestrictedBefore.IsZero() && at.Before(c.d.RestrictedBefore) && c.roleKind() == "other"
}

// ---- 1: tariffs and prices ----

func updateTariff(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	name, err := c.str("tariff_name")
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("standing_charge_pence", "unit_rate_millipence", "tou_blocks")
	if err != nil {
		return nil, err
	}
	if v[2] < 1 || v[2] > maxTOUBlocks {
		return nil, devErr("tou_blocks: the meter has 1 to %d time-of-use blocks", maxTOUBlocks)
	}
	m.Tariff = Tariff{Name: name, StandingChargePence: v[0], UnitRateMillipence: v[1], TOUBlocks: int(v[2])}
	m.resizeTOU(int(v[2]))
	c.d.logEvent(c.now(), "TARIFF_UPDATED", fmt.Sprintf("%s by %s", name, c.cmd.Sender))
	return tariffData(m), nil
}

// resizeTOU gives the meter n time-of-use registers, folding the energy of
// dropped blocks into the last one kept.
func (m *MeterState) resizeTOU(n int) {
	resize := func(in []float64) []float64 {
		out := make([]float64, n)
		for i, v := range in {
			out[min(i, n-1)] += v
		}
		return out
	}
	m.TOUKWh, m.BlockKWh = resize(m.TOUKWh), resize(m.BlockKWh)
}

func tariffData(m *MeterState) map[string]any {
	return map[string]any{
		"tariff_name":           m.Tariff.Name,
		"standing_charge_pence": m.Tariff.StandingChargePence,
		"unit_rate_millipence":  m.Tariff.UnitRateMillipence,
		"tou_blocks":            int64(m.Tariff.TOUBlocks),
		"payment_mode":          m.PaymentMode,
	}
}

func updatePrice(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("standing_charge_pence", "unit_rate_millipence")
	if err != nil {
		return nil, err
	}
	m.Tariff.StandingChargePence, m.Tariff.UnitRateMillipence = v[0], v[1]
	c.d.logEvent(c.now(), "PRICE_UPDATED", "by "+c.cmd.Sender)
	return tariffData(m), nil
}

func adjustBalance(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	adj, err := c.int("adjustment_pence")
	if err != nil {
		return nil, err
	}
	m.CreditPence += float64(adj)
	if adj > 0 {
		m.repayEmergency()
		c.d.creditAdded(c.t, c.now())
	} else {
		c.d.checkCredit(c.t, c.now())
	}
	c.d.logEvent(c.now(), "BALANCE_ADJUSTED", fmt.Sprintf("%+dp by %s", adj, c.cmd.Sender))
	return prepayValues(m), nil
}

func updatePaymentMode(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	mode, err := c.str("mode")
	if err != nil {
		return nil, err
	}
	if mode != PaymentCredit && mode != PaymentPrepayment {
		return nil, devErr("unknown payment mode %q", mode)
	}
	m.PaymentMode = mode
	if mode == PaymentCredit {
		c.d.lowAlerted = false
		c.d.creditAdded(c.t, c.now()) // a supply disabled for credit is armed again
	} else {
		c.d.checkCredit(c.t, c.now())
	}
	c.d.logEvent(c.now(), "PAYMENT_MODE", mode)
	return map[string]any{"payment_mode": mode, "supply": m.Supply}, nil
}

func resetBlockCounters(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	clear(m.BlockKWh)
	c.d.logEvent(c.now(), "BLOCK_COUNTERS_RESET", "by "+c.cmd.Sender)
	return map[string]any{"block_kwh": floats(m.BlockKWh)}, nil
}

// ---- 2: prepayment ----

func updatePrepayConfig(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("low_credit_threshold_pence", "emergency_credit_limit_pence", "disablement_threshold_pence")
	if err != nil {
		return nil, err
	}
	m.LowCreditThresholdPence, m.EmergencyCreditLimitPence, m.DisablementThresholdPence = v[0], v[1], v[2]
	c.d.checkCredit(c.t, c.now())
	return prepayConfig(m), nil
}

func prepayConfig(m *MeterState) map[string]any {
	return map[string]any{
		"low_credit_threshold_pence":   m.LowCreditThresholdPence,
		"emergency_credit_limit_pence": m.EmergencyCreditLimitPence,
		"disablement_threshold_pence":  m.DisablementThresholdPence,
		"debt_recovery_pence_per_day":  m.DebtRecoveryPencePerDay,
		"payment_mode":                 m.PaymentMode,
	}
}

func prepayValues(m *MeterState) map[string]any {
	return map[string]any{
		"credit_pence":                 round2(m.CreditPence),
		"available_credit_pence":       round2(m.available()),
		"emergency_credit_active":      m.EmergencyCreditActive,
		"emergency_credit_limit_pence": m.EmergencyCreditLimitPence,
		"debt_pence":                   round2(m.DebtPence),
		"debt_recovery_pence_per_day":  m.DebtRecoveryPencePerDay,
		"payment_mode":                 m.PaymentMode,
		"supply":                       m.Supply,
	}
}

func topUp(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	utrn, err := c.str("utrn")
	if err != nil {
		return nil, err
	}
	amount, err := c.int("amount_pence")
	if err != nil {
		return nil, err
	}
	if utrn == "" || amount <= 0 {
		return nil, devErr("a top-up needs a UTRN and a positive amount")
	}
	// A meter accepts each UTRN once, so a replayed top-up adds nothing.
	if slices.Contains(c.d.utrns, utrn) {
		c.d.logSecurity(c.now(), "UTRN_REFUSED", "UTRN "+utrn+" already used")
		return nil, rejected("UTRN %s already used", utrn)
	}
	c.d.utrns = appendCapped(c.d.utrns, utrn, maxUTRNs)
	m.CreditPence += float64(amount)
	c.d.logEvent(c.now(), "TOP_UP", fmt.Sprintf("%dp, UTRN %s", amount, utrn))
	c.t.raise(c.d, c.d.Type, alertCreditAdded, c.now(), map[string]any{"amount_pence": amount, "utrn": utrn, "credit_pence": round2(m.CreditPence)})
	m.repayEmergency()
	c.d.creditAdded(c.t, c.now())
	out := prepayValues(m)
	out["utrn"] = utrn
	return out, nil
}

func updateDebt(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("debt_pence", "recovery_rate_pence_per_day")
	if err != nil {
		return nil, err
	}
	m.DebtPence, m.DebtRecoveryPencePerDay = float64(v[0]), v[1]
	c.d.logEvent(c.now(), "DEBT_UPDATED", fmt.Sprintf("%dp at %dp/day", v[0], v[1]))
	return prepayValues(m), nil
}

func activateEmergencyCredit(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	if m.PaymentMode != PaymentPrepayment {
		return nil, devErr("emergency credit needs prepayment mode")
	}
	if m.EmergencyCreditLimitPence <= 0 {
		return nil, devErr("no emergency credit configured (2.1)")
	}
	if !m.EmergencyCreditActive {
		m.EmergencyCreditActive = true
		c.t.raise(c.d, c.d.Type, alertEmergencyCredit, c.now(), map[string]any{"emergency_credit_pence": m.EmergencyCreditLimitPence})
		c.d.creditAdded(c.t, c.now())
	}
	return prepayValues(m), nil
}

// ---- 3: display and tenancy ----

func displayMessage(c *call) (map[string]any, error) {
	msg, err := c.str("message")
	if err != nil {
		return nil, err
	}
	c.d.Message = msg
	return map[string]any{"message": msg}, nil
}

func restrictData(c *call) (map[string]any, error) {
	at, err := c.time("tenancy_start")
	if err != nil {
		return nil, err
	}
	c.d.RestrictedBefore = at
	c.d.logEvent(c.now(), "RESTRICT_DATA", "from "+rfc(at))
	return map[string]any{"restricted_before": rfc(at)}, nil
}

func clearEventLog(c *call) (map[string]any, error) {
	n := len(c.d.EventLog)
	c.d.EventLog = nil
	// The security log is never cleared; it records who cleared the other.
	c.d.logSecurity(c.now(), "EVENT_LOG_CLEARED", fmt.Sprintf("%d entries, by %s", n, c.cmd.Sender))
	return map[string]any{"cleared": int64(n)}, nil
}

func updateSupplierName(c *call) (map[string]any, error) {
	name, err := c.str("supplier_name")
	if err != nil {
		return nil, err
	}
	c.d.SupplierName = name
	return map[string]any{"supplier_name": name}, nil
}

func resetPIN(c *call) (map[string]any, error) {
	pin, err := c.str("pin")
	if err != nil {
		return nil, err
	}
	c.d.PIN = pin
	c.d.logSecurity(c.now(), "PIN_RESET", "by "+c.cmd.Sender)
	return map[string]any{"pin_reset": true}, nil
}

// ---- 4: reads ----

func readImport(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	reg, err := c.optStr("register", "total")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"register": reg, "at": rfc(c.now())}
	switch reg {
	case "total":
		out["import_kwh"] = round3(m.ImportKWh)
		if m.Fuel == "gas" {
			out["volume_m3"] = round3(m.gasVolume(m.ImportKWh))
		}
	case "tou":
		out["tou_kwh"] = floats(m.TOUKWh)
	case "block":
		out["block_kwh"] = floats(m.BlockKWh)
	default:
		return nil, devErr("unknown import register %q", reg)
	}
	return out, nil
}

func readExport(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	reg, err := c.optStr("register", "total")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"register": reg, "at": rfc(c.now())}
	switch reg {
	case "total":
		out["export_kwh"] = round3(m.ExportKWh)
	case "reactive":
		out["reactive_export_kvarh"] = round3(m.ReactiveExportKVArh)
	default:
		return nil, devErr("unknown export register %q", reg)
	}
	return out, nil
}

func readPrepayValues(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return prepayValues(m), nil
}

// logEntry answers a read of entry idx (0 the newest) of a log kept oldest
// first, with fill describing the entry found.
func (c *call) logEntry(log []LogRead, fill func(LogRead, map[string]any)) (map[string]any, error) {
	idx, err := c.optInt("entry", 0)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		return nil, devErr("entry: must not be negative")
	}
	out := map[string]any{"entry": idx, "found": false, "entries": int64(len(log))}
	if idx >= int64(len(log)) {
		return out, nil
	}
	e := log[int64(len(log))-1-idx]
	if c.restricted(e.At) {
		out["restricted"] = true
		return out, nil
	}
	out["found"] = true
	out["at"] = rfc(e.At)
	fill(e, out)
	return out, nil
}

func readBillingLog(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return c.logEntry(m.BillingLog, func(e LogRead, out map[string]any) {
		out["import_kwh"] = round3(e.ImportKWh)
		out["export_kwh"] = round3(e.ExportKWh)
		out["tou_kwh"] = floats(e.TOUKWh)
		out["consumption_kwh"] = round3(e.ConsumptionKWh)
	})
}

func readDailyLog(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return c.logEntry(m.DailyLog, func(e LogRead, out map[string]any) {
		out["import_kwh"] = round3(e.ImportKWh)
		out["export_kwh"] = round3(e.ExportKWh)
		out["tou_kwh"] = floats(e.TOUKWh)
	})
}

func readPrepayDailyLog(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return c.logEntry(m.DailyLog, func(e LogRead, out map[string]any) {
		out["credit_pence"] = round2(e.CreditPence)
		out["debt_pence"] = round2(e.DebtPence)
		out["emergency_credit_active"] = e.EmergencyCreditActive
	})
}

// fromTo reads a date range, cut to what the requester may see.
func (c *call) fromTo() (time.Time, time.Time, error) {
	from, err := c.time("from")
	if err != nil {
		return from, from, err
	}
	to, err := c.time("to")
	if err != nil {
		return from, to, err
	}
	if !from.Before(to) {
		return from, to, devErr("from must be before to")
	}
	if c.restricted(from) {
		from = c.d.RestrictedBefore
	}
	return from, to, nil
}

func readProfile(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	from, to, err := c.fromTo()
	if err != nil {
		return nil, err
	}
	entries := []any{}
	_, truncated := c.d.profile(from, to, c.now(), maxProfileEntries, func(start time.Time, _ int64, kwh float64) {
		e := map[string]any{"start": rfc(start), "import_kwh": round3(kwh)}
		if m.Fuel == "gas" {
			e["volume_m3"] = round3(m.gasVolume(kwh))
		}
		entries = append(entries, e)
	})
	return map[string]any{
		"from": rfc(from), "to": rfc(to), "interval_minutes": int64(slot / time.Minute),
		"entries": entries, "truncated": truncated,
	}, nil
}

// readNetworkData returns power quality data: the average RMS voltage of
// each half-hour for an ESME; for a GSME, the gas flow at the 6-minute
// intervals of the recordings 14.1 started.
func readNetworkData(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	from, to, err := c.fromTo()
	if err != nil {
		return nil, err
	}
	now := c.now()
	entries := []any{}
	truncated := false
	if m.Fuel == "gas" {
		lo, hi := maxTime(from, m.NetworkRecordingFrom), minTime(minTime(to, m.NetworkRecordingUntil), now)
		for t := lo.Truncate(networkInterval); t.Before(hi) && !m.NetworkRecordingFrom.IsZero(); t = t.Add(networkInterval) {
			if len(entries) == maxProfileEntries {
				truncated = true
				break
			}
			k := slotIndex(t)
			kwh := c.d.importWh(k) * c.d.onFraction(t, t.Add(networkInterval), now) / 1000
			entries = append(entries, map[string]any{"start": rfc(t), "volume_m3": round3(m.gasVolume(kwh))})
		}
		return map[string]any{"from": rfc(from), "to": rfc(to), "interval_minutes": int64(networkInterval / time.Minute), "entries": entries, "truncated": truncated}, nil
	}
	_, truncated = c.d.profile(from, to, now, maxProfileEntries, func(start time.Time, k int64, _ float64) {
		v := 230 + 6*(unit(mix(c.d.seed^uint64(k)^0x5bd1e995))-0.5)
		entries = append(entries, map[string]any{"start": rfc(start), "rms_volts": round2(v)})
	})
	return map[string]any{"from": rfc(from), "to": rfc(to), "interval_minutes": int64(slot / time.Minute), "entries": entries, "truncated": truncated}, nil
}

func readTariff(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	out := tariffData(m)
	out["tou_kwh"] = floats(m.TOUKWh)
	return out, nil
}

func readMaxDemand(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"period_minutes": m.MaxDemand.PeriodMinutes,
		"import_watts":   round2(m.MaxDemand.ImportWatts),
		"at":             rfc(m.MaxDemand.At),
	}, nil
}

func readPrepayConfig(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return prepayConfig(m), nil
}

func readLoadLimitCounter(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return loadLimitData(m), nil
}

func loadLimitData(m *MeterState) map[string]any {
	return map[string]any{
		"configured":      m.LoadLimit.Configured,
		"threshold_watts": m.LoadLimit.ThresholdWatts,
		"counter":         m.LoadLimit.Counter,
	}
}

func readActivePower(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	w := 0.0
	if c.d.flowing() {
		w = c.d.importWh(slotIndex(c.now())) / slot.Hours()
	}
	return map[string]any{"active_power_import_watts": round2(w), "at": rfc(c.now()), "supply": m.Supply}, nil
}

func readDailyConsumption(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	days, err := c.optInt("days", 1)
	if err != nil {
		return nil, err
	}
	if days < 1 {
		return nil, devErr("days: at least one")
	}
	entries := []any{}
	for i := len(m.DailyLog) - 1; i >= 0 && int64(len(entries)) < days; i-- {
		e := m.DailyLog[i]
		if c.restricted(e.At.Add(-24 * time.Hour)) {
			break
		}
		entries = append(entries, map[string]any{
			"day":             e.At.Add(-24 * time.Hour).Format(time.DateOnly),
			"consumption_kwh": round3(e.ConsumptionKWh),
		})
	}
	return map[string]any{"days": days, "entries": entries}, nil
}

// ---- 6: configuration and security ----

func readConfig(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	d := c.d
	out := map[string]any{
		"device_id":         d.ID,
		"device_type":       d.Type,
		"mpxn":              d.MPxN,
		"supplier_name":     d.SupplierName,
		"firmware_version":  d.Firmware.Version,
		"commissioned":      d.Commissioned,
		"withdrawn":         d.Withdrawn,
		"clock_synced_at":   rfc(d.ClockSyncedAt),
		"restricted_before": rfc(d.RestrictedBefore),
		"billing_day":       int64(m.BillingDay),
		"payment_mode":      m.PaymentMode,
		"supply":            m.Supply,
		"tariff":            tariffData(m),
		"prepayment":        prepayConfig(m),
		"dst_start":         rfc(d.LocalTimeChange.DSTStart),
		"dst_end":           rfc(d.LocalTimeChange.DSTEnd),
	}
	if m.Fuel == "gas" {
		out["calorific_value"] = m.Gas.CalorificValue
		out["conversion_factor"] = m.Gas.ConversionFactor
		out["uncontrolled_flow_limit"] = m.Gas.UncontrolledFlowLimit
	} else {
		out["load_limit"] = loadLimitData(m)
		out["over_voltage"] = m.Voltage.OverVolts
		out["under_voltage"] = m.Voltage.UnderVolts
		out["low_watts"] = m.LowWatts
		out["high_watts"] = m.HighWatts
		out["max_demand_period_minutes"] = m.MaxDemand.PeriodMinutes
		out["randomised_offset_seconds"] = d.RandomisedOffsetSeconds
	}
	return out, nil
}

func configureLoadLimit(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	w, err := c.int("threshold_watts")
	if err != nil {
		return nil, err
	}
	if w <= 0 {
		return nil, devErr("threshold_watts: must be positive")
	}
	reset, err := c.optBool("reset_counter", false)
	if err != nil {
		return nil, err
	}
	m.LoadLimit.Configured, m.LoadLimit.ThresholdWatts = true, w
	if reset {
		m.LoadLimit.Counter = 0
	}
	return loadLimitData(m), nil
}

func configureVoltage(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("over_voltage", "under_voltage")
	if err != nil {
		return nil, err
	}
	if v[1] >= v[0] {
		return nil, devErr("under_voltage must be below over_voltage")
	}
	m.Voltage.OverVolts, m.Voltage.UnderVolts = v[0], v[1]
	return map[string]any{"over_voltage": v[0], "under_voltage": v[1]}, nil
}

func configureGasConversion(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	cv, err := c.float("calorific_value")
	if err != nil {
		return nil, err
	}
	cf, err := c.float("conversion_factor")
	if err != nil {
		return nil, err
	}
	if cv <= 0 || cf <= 0 {
		return nil, devErr("calorific value and conversion factor must be positive")
	}
	m.Gas.CalorificValue, m.Gas.ConversionFactor = cv, cf
	return map[string]any{"calorific_value": cv, "conversion_factor": cf}, nil
}

func configureGasFlow(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	limit, err := c.float("uncontrolled_flow_limit")
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, devErr("uncontrolled_flow_limit must be positive")
	}
	m.Gas.UncontrolledFlowLimit = limit
	return map[string]any{"uncontrolled_flow_limit": limit}, nil
}

func configureBillingCalendar(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	day, err := c.int("billing_day")
	if err != nil {
		return nil, err
	}
	// Only days every month has: the calendar must fire every month.
	if day < 1 || day > 28 {
		return nil, devErr("billing_day: 1 to 28")
	}
	m.BillingDay = int(day)
	return map[string]any{"billing_day": day}, nil
}

func synchroniseClock(c *call) (map[string]any, error) {
	c.d.ClockSyncedAt = c.now()
	return map[string]any{"time": rfc(c.now())}, nil
}

func configurePowerThresholds(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	v, err := c.nonNegative("low_watts", "high_watts")
	if err != nil {
		return nil, err
	}
	if v[0] >= v[1] {
		return nil, devErr("low_watts must be below high_watts")
	}
	m.LowWatts, m.HighWatts = v[0], v[1]
	return map[string]any{"low_watts": v[0], "high_watts": v[1]}, nil
}

func logData(log []LogEntry) []any {
	out := make([]any, len(log))
	for i, e := range log {
		out[i] = map[string]any{"at": rfc(e.At), "code": e.Code, "detail": e.Detail}
	}
	return out
}

func readLogs(c *call) (map[string]any, error) {
	which, err := c.optStr("log", "both")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"log": which}
	switch which {
	case "event":
		out["event_log"] = logData(c.d.EventLog)
	case "security":
		out["security_log"] = logData(c.d.SecurityLog)
	case "both":
		out["event_log"] = logData(c.d.EventLog)
		out["security_log"] = logData(c.d.SecurityLog)
	default:
		return nil, devErr("unknown log %q", which)
	}
	return out, nil
}

// auxSwitch reads the switch number of a 6.14 or 7.x command.
func (c *call) auxSwitch() (int, error) {
	n, err := c.int("switch")
	if err != nil {
		return 0, err
	}
	if n < 1 || n > maxAux {
		return 0, devErr("switch: the device has switches 1 to %d", maxAux)
	}
	return int(n), nil
}

func auxData(n int, s AuxSwitch) map[string]any {
	return map[string]any{"switch": int64(n), "on": s.On, "calendar": s.Calendar, "boost": s.Boost}
}

func configureAuxCalendar(c *call) (map[string]any, error) {
	n, err := c.auxSwitch()
	if err != nil {
		return nil, err
	}
	cal, err := c.str("calendar")
	if err != nil {
		return nil, err
	}
	s := c.d.Aux[n]
	s.Calendar = cal
	c.d.Aux[n] = s
	return auxData(n, s), nil
}

// credentialKinds are the credentials 6.15 may name.
var credentialKinds = []string{CredSupplier, CredNetworkOperator}

// updateCredentials is 6.15: the sender replaces its own kind of
// credential (a supplier the supplier's, a network operator the network
// operator's) with its new one. Naming another party's credential is
// refused (para 141: the signer must have the authority to change it).
func updateCredentials(c *call) (map[string]any, error) {
	kind, err := c.str("credential")
	if err != nil {
		return nil, err
	}
	cert, err := c.str("certificate")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(credentialKinds, kind) {
		return nil, devErr("unknown credential %q", kind)
	}
	if kind != c.roleKind() {
		return nil, c.refuse(fmt.Sprintf("6.15 from role %q may not replace the %s credential", c.cmd.SenderRole, kind))
	}
	return c.replaceCredential(kind, cert), nil
}

// replaceCredential makes the sender the holder of kind, keeping the
// certificate it sent.
func (c *call) replaceCredential(kind, cert string) map[string]any {
	prev := c.d.Credentials[kind]
	c.d.Credentials[kind] = c.cmd.Sender
	c.d.Certificates[kind] = cert
	c.d.logSecurity(c.now(), "CREDENTIALS_UPDATED", fmt.Sprintf("%s: %s replaced by %s (%s)", kind, prev, c.cmd.Sender, c.svc.Key()))
	return map[string]any{"credential": kind, "holder": c.cmd.Sender, "previous": prev}
}

func issueCredentials(c *call) (map[string]any, error) {
	usage, err := c.str("key_usage")
	if err != nil {
		return nil, err
	}
	if usage != "signing" && usage != "key_agreement" {
		return nil, devErr("unknown key usage %q", usage)
	}
	c.d.KeyPairs[usage]++
	c.d.logSecurity(c.now(), "KEY_PAIR_GENERATED", usage)
	return map[string]any{
		"key_usage": usage,
		"csr":       fmt.Sprintf("CSR/%s/%s/%d", c.d.ID, usage, c.d.KeyPairs[usage]),
	}, nil
}

func setMaxDemand(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	p, err := c.int("period_minutes")
	if err != nil {
		return nil, err
	}
	if p <= 0 || p > 24*60 {
		return nil, devErr("period_minutes: 1 to 1440")
	}
	// A new timeframe starts a new maximum.
	m.MaxDemand = MaxDemand{PeriodMinutes: p}
	return map[string]any{"period_minutes": p}, nil
}

func setLocalTimeChange(c *call) (map[string]any, error) {
	start, err := c.time("dst_start")
	if err != nil {
		return nil, err
	}
	end, err := c.time("dst_end")
	if err != nil {
		return nil, err
	}
	if !start.Before(end) {
		return nil, devErr("dst_start must be before dst_end")
	}
	c.d.LocalTimeChange = LocalTimeChange{DSTStart: start, DSTEnd: end}
	return map[string]any{"dst_start": rfc(start), "dst_end": rfc(end)}, nil
}

func setMPxN(c *call) (map[string]any, error) {
	mpxn, err := c.str("mpxn")
	if err != nil {
		return nil, err
	}
	c.d.MPxN = mpxn
	return map[string]any{"mpxn": mpxn}, nil
}

// handover is 6.21: the DCC's credential on a hub passes to the sender.
func handover(c *call) (map[string]any, error) {
	cert, err := c.str("certificate")
	if err != nil {
		return nil, err
	}
	return c.replaceCredential(CredAccessControlBroker, cert), nil
}

func configureEventBehaviour(c *call) (map[string]any, error) {
	code, err := c.str("alert_code")
	if err != nil {
		return nil, err
	}
	action, err := c.str("action")
	if err != nil {
		return nil, err
	}
	if c.f.alerts[code] == nil {
		return nil, devErr("unknown alert %q", code)
	}
	if action != "log" && action != "alert" && action != "ignore" {
		return nil, devErr("unknown action %q", action)
	}
	c.d.EventBehaviour[code] = action
	return map[string]any{"alert_code": code, "action": action}, nil
}

// changeOfSupplier is 6.23: the gaining supplier (the sender) becomes the
// holder of the supplier credential. The gateway raises the alerts to the
// gaining and losing suppliers (para 146).
func changeOfSupplier(c *call) (map[string]any, error) {
	cert, err := c.str("certificate")
	if err != nil {
		return nil, err
	}
	return c.replaceCredential(CredSupplier, cert), nil
}

func retrieveCredentials(c *call) (map[string]any, error) {
	certs := map[string]any{}
	for _, usage := range []string{"signing", "key_agreement"} {
		certs[usage] = c.d.deviceCertificate(usage)
	}
	held := map[string]any{}
	for k, v := range c.d.Credentials {
		held[k] = v
	}
	return map[string]any{"device_certificates": certs, "credentials": held}, nil
}

// ---- 7: supply and load control ----

func enableSupply(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	c.d.disabledByCredit = false
	if m.Supply != SupplyEnabled {
		c.d.setSupply(c.now(), SupplyEnabled)
		c.t.raise(c.d, c.d.Type, alertSupplyEnabled, c.now(), map[string]any{"supply": SupplyEnabled})
	}
	return map[string]any{"supply": m.Supply}, nil
}

func disableSupply(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	c.d.disabledByCredit = false
	c.d.setSupply(c.now(), SupplyDisabled)
	c.d.logEvent(c.now(), "SUPPLY_DISABLED", "by "+c.cmd.Sender)
	return map[string]any{"supply": m.Supply}, nil
}

func armSupply(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	// Arming an enabled supply interrupts it: armed means off until the
	// consumer enables it at the meter.
	c.d.disabledByCredit = false
	c.d.setSupply(c.now(), SupplyArmed)
	c.t.raise(c.d, c.d.Type, alertArmed, c.now(), map[string]any{"supply": SupplyArmed})
	return map[string]any{"supply": m.Supply}, nil
}

func readSupply(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	return map[string]any{"supply": m.Supply, "powered": c.d.Powered}, nil
}

// setAux switches an auxiliary load switch ad hoc. A HAN connected switch
// (HCALCS) reports the outcome through its meter, which raises A26 if Table
// 5.4 lets it.
func setAux(c *call, on bool, calendar bool) (map[string]any, error) {
	n, err := c.auxSwitch()
	if err != nil {
		return nil, err
	}
	s := c.d.Aux[n]
	s.On = on
	if calendar {
		s.Calendar = ""
	}
	c.d.Aux[n] = s
	c.d.logEvent(c.now(), "AUX_SWITCH", fmt.Sprintf("switch %d on=%t by %s", n, on, c.cmd.Sender))
	if c.d.Type == TypeHCALCS {
		if m := c.f.devices[c.d.AssociatedMeter]; m != nil {
			c.t.raise(m, m.Type, alertAuxAdHoc, c.now(), map[string]any{"switch_device": c.d.ID, "switch": int64(n), "on": on})
		}
	}
	return auxData(n, s), nil
}

func auxActivate(c *call) (map[string]any, error)   { return setAux(c, true, false) }
func auxDeactivate(c *call) (map[string]any, error) { return setAux(c, false, false) }

// auxReset returns a switch to its default: off, no calendar, not boosted.
func auxReset(c *call) (map[string]any, error) {
	if _, err := setAux(c, false, true); err != nil {
		return nil, err
	}
	n, _ := c.auxSwitch()
	s := c.d.Aux[n]
	s.Boost = false
	c.d.Aux[n] = s
	return auxData(n, s), nil
}

func auxRead(c *call) (map[string]any, error) {
	n, err := c.auxSwitch()
	if err != nil {
		return nil, err
	}
	return auxData(n, c.d.Aux[n]), nil
}

func setBoost(c *call, boost bool) (map[string]any, error) {
	n, err := c.auxSwitch()
	if err != nil {
		return nil, err
	}
	s := c.d.Aux[n]
	s.Boost = boost
	c.d.Aux[n] = s
	return auxData(n, s), nil
}

func boostAdd(c *call) (map[string]any, error)    { return setBoost(c, true) }
func boostRemove(c *call) (map[string]any, error) { return setBoost(c, false) }

func boostRead(c *call) (map[string]any, error) {
	var under []any
	for _, n := range slices.Sorted(maps.Keys(c.d.Aux)) {
		if c.d.Aux[n].Boost {
			under = append(under, int64(n))
		}
	}
	if under == nil {
		under = []any{}
	}
	return map[string]any{"switches": under}, nil
}

func setRandomisedOffset(c *call) (map[string]any, error) {
	s, err := c.int("offset_seconds")
	if err != nil {
		return nil, err
	}
	if s < 0 || s > 24*60*60 {
		return nil, devErr("offset_seconds: 0 to a day")
	}
	c.d.RandomisedOffsetSeconds = s
	return map[string]any{"offset_seconds": s}, nil
}

// ---- 8: installation and HAN ----

func commission(c *call) (map[string]any, error) {
	d := c.d
	if !d.Commissioned {
		d.Commissioned, d.CommissionedAt = true, c.now()
		d.logSecurity(c.now(), "COMMISSIONED", "by "+c.cmd.Sender)
	}
	d.ClockSyncedAt = c.now()
	return map[string]any{"commissioned": true, "time": rfc(c.now()), "mpxn": d.MPxN}, nil
}

// optOut is 8.5: the supplier takes the device out of the DCC. It holds the
// supplier's credential and no longer any of the DCC's.
func optOut(c *call) (map[string]any, error) {
	cert, err := c.str("certificate")
	if err != nil {
		return nil, err
	}
	for _, k := range []string{CredAccessControlBroker, CredWANProvider, CredCoSParty} {
		delete(c.d.Credentials, k)
	}
	out := c.replaceCredential(CredSupplier, cert)
	c.d.Withdrawn = true
	out["withdrawn"] = true
	return out, nil
}

// deviceID reads a field naming another device.
func (c *call) deviceID(name string) (string, error) {
	id, err := c.str(name)
	if err != nil {
		return "", err
	}
	if c.f.eui64 != nil && !c.f.eui64.MatchString(id) {
		return "", devErr("field %s: %q is not a Device ID", name, id)
	}
	return id, nil
}

func join(c *call) (map[string]any, error) {
	other, err := c.deviceID("other_device")
	if err != nil {
		return nil, err
	}
	if other == c.d.ID {
		return nil, devErr("a device cannot join itself")
	}
	if !slices.Contains(c.d.Joined, other) {
		if len(c.d.Joined) >= maxHAN {
			return nil, devErr("the device already communicates with %d devices", maxHAN)
		}
		c.d.Joined = append(c.d.Joined, other)
		c.d.logEvent(c.now(), "JOINED", other)
	}
	return map[string]any{"joined": strList(c.d.Joined)}, nil
}

func unjoin(c *call) (map[string]any, error) {
	other, err := c.deviceID("other_device")
	if err != nil {
		return nil, err
	}
	i := slices.Index(c.d.Joined, other)
	if i >= 0 {
		c.d.Joined = slices.Delete(c.d.Joined, i, i+1)
		c.d.logEvent(c.now(), "UNJOINED", other)
	}
	return map[string]any{"was_joined": i >= 0, "joined": strList(c.d.Joined)}, nil
}

func deviceLogData(log []DeviceLogEntry) []any {
	out := make([]any, len(log))
	for i, e := range log {
		out[i] = map[string]any{"device": e.Device, "credential": e.Credential}
	}
	return out
}

func readDeviceLog(c *call) (map[string]any, error) {
	return map[string]any{"devices": deviceLogData(c.d.DeviceLog)}, nil
}

// updateDeviceLog is 8.11. Each added device is logged with its own
// certificate when it is in the fleet, or one derived from its ID.
func updateDeviceLog(c *call) (map[string]any, error) {
	add, err := c.strs("add")
	if err != nil {
		return nil, err
	}
	remove, err := c.strs("remove")
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Concat(add, remove) {
		if c.f.eui64 != nil && !c.f.eui64.MatchString(id) {
			return nil, devErr("%q is not a Device ID", id)
		}
	}
	log := c.d.DeviceLog
	for _, id := range remove {
		log = slices.DeleteFunc(log, func(e DeviceLogEntry) bool { return e.Device == id })
	}
	for _, id := range add {
		if slices.ContainsFunc(log, func(e DeviceLogEntry) bool { return e.Device == id }) {
			continue
		}
		if len(log) >= maxHAN {
			return nil, devErr("the Device Log is full (%d devices)", maxHAN)
		}
		cred := (&DeviceState{ID: id}).deviceCertificate("key_agreement")
		if o := c.f.devices[id]; o != nil {
			cred = o.deviceCertificate("key_agreement")
		}
		log = append(log, DeviceLogEntry{Device: id, Credential: cred})
	}
	c.d.DeviceLog = log
	c.d.logEvent(c.now(), "DEVICE_LOG_UPDATED", fmt.Sprintf("+%d -%d by %s", len(add), len(remove), c.cmd.Sender))
	return map[string]any{"devices": deviceLogData(log)}, nil
}

func restoreDeviceLog(c *call) (map[string]any, error) {
	from, err := c.deviceID("from_chf")
	if err != nil {
		return nil, err
	}
	src := c.f.devices[from]
	if src == nil || src.Type != TypeCHF {
		return nil, devErr("no Device Log of a CHF %s to restore from", from)
	}
	c.d.DeviceLog = slices.Clone(src.DeviceLog)
	c.d.logEvent(c.now(), "DEVICE_LOG_RESTORED", "from "+from)
	return map[string]any{"from_chf": from, "devices": deviceLogData(c.d.DeviceLog)}, nil
}

// ---- 9, 11, 14 ----

func requestCIN(c *call) (map[string]any, error) {
	c.d.cins++
	cin := fmt.Sprintf("%04d", mix(c.d.seed^uint64(c.d.cins)<<32)%10000)
	c.d.CIN = cin
	c.d.Message = "CIN " + cin
	return map[string]any{"cin": cin}, nil
}

// updateFirmware is 11.1: the device stores one image besides the running
// one, so a new image replaces any other stored one.
func updateFirmware(c *call) (map[string]any, error) {
	version, err := c.str("version")
	if err != nil {
		return nil, err
	}
	image, err := c.str("image")
	if err != nil {
		return nil, err
	}
	if version == "" || image == "" {
		return nil, devErr("a firmware update needs a version and an image")
	}
	fw := &c.d.Firmware
	maps.DeleteFunc(fw.Images, func(v, _ string) bool { return v != fw.Version })
	h := imageHash(image)
	fw.Images[version] = h
	c.d.logEvent(c.now(), "FIRMWARE_STORED", version)
	return map[string]any{"version": version, "sha256": h, "active": fw.Version}, nil
}

func readFirmware(c *call) (map[string]any, error) {
	fw := c.d.Firmware
	stored := map[string]any{}
	for v, h := range fw.Images {
		stored[v] = h
	}
	return map[string]any{"version": fw.Version, "images": stored}, nil
}

func activateFirmware(c *call) (map[string]any, error) {
	version, err := c.str("version")
	if err != nil {
		return nil, err
	}
	fw := &c.d.Firmware
	h, ok := fw.Images[version]
	if !ok {
		return nil, devErr("no firmware image %q stored", version)
	}
	prev := fw.Version
	fw.Version = version
	maps.DeleteFunc(fw.Images, func(v, _ string) bool { return v != version })
	c.d.logSecurity(c.now(), "FIRMWARE_ACTIVATED", prev+" -> "+version)
	return map[string]any{"version": version, "previous": prev, "sha256": h}, nil
}

func recordNetworkData(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	m.NetworkRecordingFrom = c.now()
	m.NetworkRecordingUntil = c.now().Add(networkRecording)
	return map[string]any{
		"from": rfc(m.NetworkRecordingFrom), "until": rfc(m.NetworkRecordingUntil),
		"interval_minutes": int64(networkInterval / time.Minute),
	}, nil
}
