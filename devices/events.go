package devices

import (
	"fmt"
	"maps"
	"slices"
)

// Event kinds: what happens to devices in a home, outside any Command. The
// alerts are raised only where Table 5.4 (spec.Alerts, "issued by") lets the
// device type raise them; otherwise the device just logs the event.
//
//	kind              applies to                         effect                                            alerts
//	wan_connected     CHF                                the hub joins the SMWAN and becomes reachable;    -
//	                                                     OnWANConnected subscribers are told
//	power_loss        any device with power to lose      the premises lose power: the device's CHF and     A21 (by the CSP, about the CHF)
//	                                                     every device on it but battery ones (the types
//	                                                     that Table 5.4 says report Low Battery, A5);
//	                                                     no energy flows, the hub stops answering
//	power_restored    a device whose premises are out    power comes back                                  A24; A25 too if the outage lasted
//	                                                                                                       at least A25's minutes (3) of clock time
//	tamper            any                                entry in the security log                         A1
//	low_battery       battery devices (issuers of A5)    BatteryLow set                                    A5
//	voltage_high      electricity meters                 RMS voltage above the over-voltage threshold      A15
//	voltage_low       electricity meters                 RMS voltage below the under-voltage threshold     A16
//	load_above_limit  electricity meters                 Load Limit Counter + 1; if 6.4 configured load    A6; A7 when disabled then armed
//	                                                     limiting, supply disabled then armed
//	credit_drop       meters in prepayment mode          credit used down to just below the low credit     A10; then A11 and supply disabled
//	                                                     threshold, or, when already below it, down to
//	                                                     below the disablement threshold (emergency
//	                                                     credit included)
//	button_press      meters with the supply armed       the consumer enables the supply                   A8
const (
	EventWANConnected   = "wan_connected"
	EventPowerLoss      = "power_loss"
	EventPowerRestored  = "power_restored"
	EventTamper         = "tamper"
	EventLowBattery     = "low_battery"
	EventVoltageHigh    = "voltage_high"
	EventVoltageLow     = "voltage_low"
	EventLoadAboveLimit = "load_above_limit"
	EventCreditDrop     = "credit_drop"
	EventButtonPress    = "button_press"
)

type eventFunc func(t *tx, d *device) error

var events = map[string]eventFunc{
	EventWANConnected:   wanConnected,
	EventPowerLoss:      powerLoss,
	EventPowerRestored:  powerRestored,
	EventTamper:         tamper,
	EventLowBattery:     lowBattery,
	EventVoltageHigh:    func(t *tx, d *device) error { return voltage(t, d, true) },
	EventVoltageLow:     func(t *tx, d *device) error { return voltage(t, d, false) },
	EventLoadAboveLimit: loadAboveLimit,
	EventCreditDrop:     creditDrop,
	EventButtonPress:    buttonPress,
}

// AlertOf is the one device alert an event of kind raises on a device that
// can raise it ("" for the kinds that raise none, several, or one that
// depends on the device's state). The events that raise one take it from
// here, so the two cannot differ.
func AlertOf(kind string) string {
	switch kind {
	case EventTamper:
		return alertTamper
	case EventVoltageHigh:
		return alertOverVoltage
	case EventVoltageLow:
		return alertUnderVoltage
	}
	return ""
}

// EventKinds returns the kinds Event accepts, sorted.
func EventKinds() []string { return slices.Sorted(maps.Keys(events)) }

// Event makes something happen to a device (see the Event kinds) and raises
// the alerts it causes. It returns ErrUnknownDevice, ErrUnknownEvent or
// ErrEventNotApplicable (wrapped, with the reason).
func (f *Fleet) Event(device, kind string) error {
	fn := events[kind]
	if fn == nil {
		return fmt.Errorf("%w %q", ErrUnknownEvent, kind)
	}
	t := f.begin()
	defer f.end(t)
	d := f.devices[device]
	if d == nil {
		return fmt.Errorf("%w: %s", ErrUnknownDevice, device)
	}
	d.accrue(t)
	return fn(t, d)
}

func notApplicable(d *device, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrEventNotApplicable, d.Type, d.ID, fmt.Sprintf(format, args...))
}

func wanConnected(t *tx, d *device) error {
	if d.Type != TypeCHF {
		return notApplicable(d, "only a Communications Hub Function joins the SMWAN")
	}
	d.WANConnected = true
	d.logEvent(t.now, "WAN_CONNECTED", "joined the SMWAN")
	t.wan = append(t.wan, d.ID)
	return nil
}

// hubID is the CHF whose premises the device is on, "" for none.
func (d *device) hubID() string {
	if d.Type == TypeCHF {
		return d.ID
	}
	return d.CHF
}

// premises are the devices that share d's power supply: its CHF and every
// device on it, or d alone without a hub; in ID order.
func (t *tx) premises(d *device) []*device {
	hub := d.hubID()
	if hub == "" {
		return []*device{d}
	}
	var out []*device
	for _, id := range slices.Sorted(maps.Keys(t.f.devices)) {
		o := t.f.devices[id]
		if o.ID == hub || o.CHF == hub {
			out = append(out, o)
		}
	}
	return out
}

func powerLoss(t *tx, d *device) error {
	var lose []*device
	for _, o := range t.premises(d) {
		if !t.f.battery[o.Type] && o.Powered {
			lose = append(lose, o)
		}
	}
	if len(lose) == 0 {
		return notApplicable(d, "nothing on mains power is powered")
	}
	for _, o := range lose {
		o.accrue(t)
		o.setPowered(t.now, false)
		o.logEvent(t.now, "POWER_LOSS", "")
	}
	if hub := t.f.devices[d.hubID()]; hub != nil && !hub.Powered {
		// The hub's last gasp reaches the CSP, which raises A21.
		t.raise(hub, issuerCSP, alertPowerLoss, t.now, nil)
	}
	return nil
}

func powerRestored(t *tx, d *device) error {
	var back []*device
	for _, o := range t.premises(d) {
		if !t.f.battery[o.Type] && !o.Powered {
			back = append(back, o)
		}
	}
	if len(back) == 0 {
		return notApplicable(d, "no power cut to end")
	}
	hub := t.f.devices[d.hubID()]
	lostAt := back[0].PowerLostAt
	if hub != nil && !hub.Powered {
		lostAt = hub.PowerLostAt
	}
	for _, o := range back {
		o.accrue(t)
		o.setPowered(t.now, true)
		o.logEvent(t.now, "POWER_RESTORED", "")
	}
	if hub == nil || !slices.Contains(back, hub) {
		return nil
	}
	outage := t.now.Sub(lostAt)
	data := map[string]any{"outage_seconds": int64(outage.Seconds()), "lost_at": rfc(lostAt)}
	t.raise(hub, hub.Type, alertRestored, t.now, data)
	if outage >= t.f.longOutage {
		t.raise(hub, hub.Type, alertLongOutage, t.now, data)
	}
	return nil
}

func tamper(t *tx, d *device) error {
	d.logSecurity(t.now, "TAMPER", "unauthorised physical access")
	t.raise(d, d.Type, AlertOf(EventTamper), t.now, nil)
	return nil
}

func lowBattery(t *tx, d *device) error {
	if !t.f.battery[d.Type] {
		return notApplicable(d, "runs on mains power")
	}
	d.BatteryLow = true
	t.raise(d, d.Type, alertLowBattery, t.now, nil)
	return nil
}

// electricity returns the meter of an electricity meter.
func electricity(d *device) (*MeterState, bool) {
	return d.Meter, d.Meter != nil && d.Meter.Fuel == "electricity"
}

func voltage(t *tx, d *device, high bool) error {
	m, ok := electricity(d)
	if !ok {
		return notApplicable(d, "measures no voltage")
	}
	code, threshold := AlertOf(EventVoltageLow), m.Voltage.UnderVolts
	m.Voltage.RMSVolts = float64(threshold) - 2
	if high {
		code, threshold = AlertOf(EventVoltageHigh), m.Voltage.OverVolts
		m.Voltage.RMSVolts = float64(threshold) + 2
	}
	t.raise(d, d.Type, code, t.now, map[string]any{"rms_volts": m.Voltage.RMSVolts, "threshold_volts": threshold})
	return nil
}

func loadAboveLimit(t *tx, d *device) error {
	m, ok := electricity(d)
	if !ok {
		return notApplicable(d, "has no load limiting")
	}
	m.LoadLimit.Counter++
	t.raise(d, d.Type, alertLoadLimit, t.now, map[string]any{"threshold_watts": m.LoadLimit.ThresholdWatts, "counter": m.LoadLimit.Counter})
	if m.LoadLimit.Configured && m.Supply == SupplyEnabled {
		d.setSupply(t.now, SupplyDisabled)
		d.setSupply(t.now, SupplyArmed)
		t.raise(d, d.Type, alertLoadLimitArmed, t.now, map[string]any{"supply": SupplyArmed})
	}
	return nil
}

func creditDrop(t *tx, d *device) error {
	m := d.Meter
	if m == nil || m.PaymentMode != PaymentPrepayment {
		return notApplicable(d, "not a meter in prepayment mode")
	}
	low, dis := float64(m.LowCreditThresholdPence), float64(m.DisablementThresholdPence)
	if m.CreditPence >= low {
		m.CreditPence = low - 1
	} else {
		m.CreditPence = dis - 1
		if m.EmergencyCreditActive {
			m.CreditPence -= float64(m.EmergencyCreditLimitPence)
		}
	}
	d.logEvent(t.now, "CREDIT_USED", fmt.Sprintf("credit now %.2fp", m.CreditPence))
	d.checkCredit(t, t.now)
	return nil
}

func buttonPress(t *tx, d *device) error {
	m := d.Meter
	if m == nil || m.Supply != SupplyArmed {
		return notApplicable(d, "supply is not armed")
	}
	d.setSupply(t.now, SupplyEnabled)
	t.raise(d, d.Type, alertSupplyEnabled, t.now, map[string]any{"supply": SupplyEnabled, "by": "consumer"})
	return nil
}
