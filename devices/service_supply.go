package devices

// Services 7: supply and auxiliary load control.

import (
	"fmt"
	"maps"
	"slices"
)

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
	put(&c.d.Aux, n, s)
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
	put(&c.d.Aux, n, s)
	return auxData(n, s), nil
}

// auxRead is 7.7: a switch's configuration, or (switch 0) every switch's.
func auxRead(c *call) (map[string]any, error) {
	if n, err := c.optInt("switch", 0); err == nil && n == 0 {
		var out []any
		for n := 1; n <= maxAux; n++ {
			out = append(out, auxData(n, c.d.Aux[n]))
		}
		return map[string]any{"switches": out}, nil
	}
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
	put(&c.d.Aux, n, s)
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
