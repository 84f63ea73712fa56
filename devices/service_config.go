package devices

// Services 6: configuration and security credentials.

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

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
		"billing_time":      formatTimeOfDay(m.BillingTime),
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
	clock, err := c.optStr("billing_time", "")
	if err != nil {
		return nil, err
	}
	at, ok := timeOfDay(clock)
	if !ok {
		return nil, devErr("billing_time: a time of day HH:MM:SS (UTC), not %q", clock)
	}
	m.BillingDay, m.BillingTime = int(day), at
	return map[string]any{"billing_day": day, "billing_time": formatTimeOfDay(at)}, nil
}

// timeOfDay reads a time of day HH:MM:SS as the time since midnight; empty
// is midnight.
func timeOfDay(s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	t, err := time.Parse(time.TimeOnly, s)
	if err != nil || len(s) != len(time.TimeOnly) {
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second, true
}

// formatTimeOfDay writes a time since midnight as HH:MM:SS.
func formatTimeOfDay(d time.Duration) string {
	return time.Time{}.Add(d).Format(time.TimeOnly)
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
	return map[string]any{"switch": int64(n), "on": s.On, "calendar": s.Calendar, "description": s.Description, "boost": s.Boost}
}

// configureAuxCalendar is 6.14: a switch's calendar and/or description, or
// (switch 0) the Device's calendar, which each switch then follows. What
// the Command leaves empty is unchanged.
func configureAuxCalendar(c *call) (map[string]any, error) {
	cal, err := c.optStr("calendar", "")
	if err != nil {
		return nil, err
	}
	desc, err := c.optStr("description", "")
	if err != nil {
		return nil, err
	}
	if cal == "" && desc == "" {
		return nil, devErr("a calendar, a description or both")
	}
	n64, err := c.optInt("switch", 0)
	if err != nil {
		return nil, err
	}
	switches := []int{int(n64)}
	if n64 == 0 {
		if desc != "" {
			return nil, devErr("a description is a switch's: name the switch")
		}
		switches = switches[:0]
		for n := 1; n <= maxAux; n++ {
			switches = append(switches, n)
		}
	} else if _, err := c.auxSwitch(); err != nil {
		return nil, err
	}
	var out []any
	for _, n := range switches {
		s := c.d.Aux[n]
		if cal != "" {
			s.Calendar = cal
		}
		if desc != "" {
			s.Description = desc
		}
		put(&c.d.Aux, n, s)
		out = append(out, auxData(n, s))
	}
	if len(out) == 1 {
		return out[0].(map[string]any), nil
	}
	return map[string]any{"switches": out}, nil
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
		return nil, c.refuse(alertNoPermission, "6.15 from role %q may not replace the %s credential", c.cmd.SenderRole, kind)
	}
	return c.replaceCredential(kind, cert), nil
}

// replaceCredential makes the sender the holder of kind, keeping the
// certificate it sent.
func (c *call) replaceCredential(kind, cert string) map[string]any {
	prev := c.d.Credentials[kind]
	c.d.ownCredentials()
	c.d.Credentials[kind] = c.cmd.Sender
	put(&c.d.Certificates, kind, cert)
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
	put(&c.d.KeyPairs, usage, c.d.KeyPairs[usage]+1)
	c.d.logSecurity(c.now(), "KEY_PAIR_GENERATED", usage)
	return map[string]any{
		"key_usage": usage,
		"csr":       fmt.Sprintf("CSR/%s/%s/%d", c.d.ID, usage, c.d.KeyPairs[usage]),
	}, nil
}

// setMaxDemand is 6.18: the register's integration period, its daily
// timeframe, or its values set to zero; what the Command leaves out is
// unchanged.
func setMaxDemand(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	p, err := c.optInt("period_minutes", 0)
	if err != nil {
		return nil, err
	}
	if p < 0 || p > 24*60 {
		return nil, devErr("period_minutes: 1 to 1440")
	}
	start, err := c.optStr("timeframe_start", "")
	if err != nil {
		return nil, err
	}
	end, err := c.optStr("timeframe_end", "")
	if err != nil {
		return nil, err
	}
	reset, err := c.optBool("reset", false)
	if err != nil {
		return nil, err
	}
	if p == 0 && start == "" && !reset {
		return nil, devErr("a period, a timeframe or a reset")
	}
	md := m.MaxDemand
	if p != 0 {
		// A new timeframe starts a new maximum.
		md.PeriodMinutes, reset = p, true
	}
	if start != "" {
		md.TimeframeStart, md.TimeframeEnd, reset = start, end, true
	}
	if reset {
		md.ImportWatts, md.At = 0, time.Time{}
	}
	m.MaxDemand = md
	return map[string]any{"period_minutes": md.PeriodMinutes, "timeframe_start": md.TimeframeStart, "timeframe_end": md.TimeframeEnd}, nil
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

// configureEventBehaviour is 6.22: an alert of Table 5.4 is logged,
// alerted or ignored; the settings of the meter's own event codes, as DUIS
// names them (path=Enable|Disable), are kept as given: the emulation raises
// Table 5.4's alerts only.
func configureEventBehaviour(c *call) (map[string]any, error) {
	code, err := c.optStr("alert_code", "")
	if err != nil {
		return nil, err
	}
	action, err := c.optStr("action", "")
	if err != nil {
		return nil, err
	}
	settings, err := c.strs("settings")
	if err != nil {
		return nil, err
	}
	if code == "" && len(settings) == 0 {
		return nil, devErr("an alert or settings to configure")
	}
	out := map[string]any{}
	if code != "" {
		if c.f.alerts[code] == nil {
			return nil, devErr("unknown alert %q", code)
		}
		if action != "log" && action != "alert" && action != "ignore" {
			return nil, devErr("unknown action %q", action)
		}
		put(&c.d.EventBehaviour, code, action)
		out["alert_code"], out["action"] = code, action
	}
	for _, s := range settings {
		path, state, ok := strings.Cut(s, "=")
		if !ok || (state != "Enable" && state != "Disable") {
			return nil, devErr("setting %q is not path=Enable or path=Disable", s)
		}
		put(&c.d.EventBehaviour, path, state)
	}
	if len(settings) > 0 {
		out["settings"] = settings
	}
	return out, nil
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
