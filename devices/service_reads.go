package devices

// Services 3 and 4: display, tenancy and reads.

import (
	"fmt"
	"time"
)

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

// resetPIN is 3.5. The PIN is optional: without one (empty, or unset in
// the Pre-Command) the meter has no PIN, which disables it, as DUIS's 3.5
// (Disable Privacy PIN) does.
func resetPIN(c *call) (map[string]any, error) {
	pin, err := c.optStr("pin", "")
	if err != nil {
		return nil, err
	}
	c.d.PIN = pin
	detail := "by " + c.cmd.Sender
	if pin == "" {
		detail = "disabled " + detail
	}
	c.d.logSecurity(c.now(), "PIN_RESET", detail)
	return map[string]any{"pin_reset": true, "pin_enabled": pin != ""}, nil
}

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
	days, err := c.optInt("days", 0)
	if err != nil {
		return nil, err
	}
	period, err := c.optStr("from", "")
	if err != nil {
		return nil, err
	}
	// No count but a period: the entries of the days that start in [from,
	// to), as DUIS asks (ReadLogPeriod); neither: the newest.
	var from, to time.Time
	switch {
	case days == 0 && period != "":
		if from, to, err = c.fromTo(); err != nil {
			return nil, err
		}
		days = int64(len(m.DailyLog))
	case days == 0:
		days = 1
	case days < 0:
		return nil, devErr("days: at least one")
	}
	entries := []any{}
	for i := len(m.DailyLog) - 1; i >= 0 && int64(len(entries)) < days; i-- {
		e := m.DailyLog[i]
		day := e.At.Add(-24 * time.Hour)
		if c.restricted(day) || (!from.IsZero() && day.Before(from)) {
			break
		}
		if !to.IsZero() && !day.Before(to) {
			continue
		}
		entries = append(entries, map[string]any{
			"day":             day.Format(time.DateOnly),
			"consumption_kwh": round3(e.ConsumptionKWh),
		})
	}
	out := map[string]any{"days": days, "entries": entries}
	if !from.IsZero() {
		out = map[string]any{"from": rfc(from), "to": rfc(to), "entries": entries}
	}
	return out, nil
}
