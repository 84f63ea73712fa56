package devices

// Services 1 and 2: tariffs, prices, balance and prepayment.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// prepaymentNeedsCritical refuses a non-critical tariff or price Command
// (the credit rows of 1.1 and 1.2) to a meter in prepayment mode: there a
// tariff can take the supply off, which makes the Command critical (para
// 118), and the prepayment rows are.
func prepaymentNeedsCritical(c *call, m *MeterState) error {
	if m.PaymentMode == PaymentPrepayment && !c.cmd.Critical {
		return rejected("the meter is in prepayment mode: its tariff and price change only by a critical Command (the prepayment rows of 1.1, 1.2)")
	}
	return nil
}

func updateTariff(c *call) (map[string]any, error) {
	m, err := c.meter()
	if err != nil {
		return nil, err
	}
	// The name is optional: empty (unset in the Pre-Command) is a tariff
	// with no name.
	name, err := c.optStr("tariff_name", "")
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
	if err := prepaymentNeedsCritical(c, m); err != nil {
		return nil, err
	}
	m.Tariff = Tariff{Name: name, StandingChargePence: v[0], UnitRateMillipence: v[1], TOUBlocks: int(v[2])}
	m.resizeTOU(int(v[2]))
	logged := name
	if logged == "" {
		logged = "tariff with no name"
	}
	c.d.logEvent(c.now(), "TARIFF_UPDATED", fmt.Sprintf("%s by %s", logged, c.cmd.Sender))
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
	if err := prepaymentNeedsCritical(c, m); err != nil {
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
	adj, err := c.optInt("adjustment_pence", 0)
	if err != nil {
		return nil, err
	}
	reset, err := c.optBool("reset", false)
	if err != nil {
		return nil, err
	}
	if reset {
		if adj != 0 {
			return nil, devErr("adjust the balance or reset it, not both")
		}
		// A reset is the adjustment that leaves nothing.
		adj = int64(-math.Round(m.CreditPence))
		m.CreditPence = 0
	} else {
		m.CreditPence += float64(adj)
	}
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
	amount, err := c.optInt("amount_pence", 0)
	if err != nil {
		return nil, err
	}
	if amount == 0 {
		// DUIS's 2.2 carries the UTRN alone: the meter reads the credit
		// from the token.
		if amount, err = utrnValue(utrn); err != nil {
			return nil, err
		}
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

// utrnBase is what a UTRN's first 19 digits, the Prepayment Top-up Token
// Decimal, add to its 64-bit Prepayment Top-up Token (GBCS section 14);
// the 20th digit is a check digit.
const utrnBase = 7394156990786306048

// utrnValue is the credit a UTRN carries, in pence, as a meter reads it
// (GBCS section 14): the token's upper 32 bits end with its value class (2
// bits: 0 pennies, 1 pounds) and its value (13 bits). The token's MAC, in
// its lower 32 bits, is not checked: the emulation holds no keys.
func utrnValue(utrn string) (int64, error) {
	if len(utrn) != 20 {
		return 0, devErr("UTRN %q: not 20 digits", utrn)
	}
	pptd, err := strconv.ParseUint(utrn[:19], 10, 64)
	if err != nil || pptd < utrnBase {
		return 0, devErr("UTRN %s: not a top-up token", utrn)
	}
	hi := (pptd - utrnBase) >> 32
	value := int64(hi & 0x1fff)
	switch class := (hi >> 13) & 3; class {
	case 0:
		return value, nil
	case 1:
		return value * 100, nil
	default:
		return 0, devErr("UTRN %s: value class %d is neither pennies nor pounds", utrn, class)
	}
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
